"""The user's classes as one table: id, name and colour travel together, never as parallel dicts.

Names and colours come from wherever the user already gave them (a label raster's category names
and colour table, a categorised vector style, text class names) and are kept; ``completed`` fills
the missing colours from a categorical palette whose neighbours stay distinguishable on a map.
Colours are '#rrggbb' text throughout; ``hex_color`` and ``rgb_color`` are the only conversions.
"""
from __future__ import annotations

import colorsys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Twenty hues of clearly different lightness and saturation, strongest first.
PALETTE = ("#e6194b", "#3cb44b", "#4363d8", "#ffe119", "#f58231", "#911eb4", "#46f0f0", "#f032e6",
           "#bcf60c", "#008080", "#9a6324", "#fabebe", "#800000", "#aaffc3", "#808000", "#000075",
           "#e6beff", "#ffd8b1", "#808080", "#fffac8")


def hex_color(rgb: Iterable[float]) -> str:
    """'#rrggbb' of the first three components (0-255) of ``rgb``."""
    return "#{:02x}{:02x}{:02x}".format(*(int(c) for c in tuple(rgb)[:3]))


def rgb_color(color: str) -> tuple[int, ...]:
    """(red, green, blue) 0-255 of a '#rrggbb' colour."""
    color = color.lstrip("#")
    return tuple(int(color[i:i + 2], 16) for i in (0, 2, 4))


def palette_color(index: int) -> str:
    """The ``index``-th default colour; past the table, hues spaced by the golden ratio."""
    if index < len(PALETTE):
        return PALETTE[index]
    hue = (index * 0.618033988749895) % 1.0
    rgb = colorsys.hsv_to_rgb(hue, 0.65 + 0.35 * (index % 2), 0.95 - 0.3 * (index % 3) / 2)
    return hex_color(int(c * 255) for c in rgb)


@dataclass(frozen=True)
class ClassInfo:
    id: int
    name: str | None = None   # None: the user gave no name
    color: str | None = None  # '#rrggbb'; None: the user chose none

    @property
    def label(self) -> str:
        """The name, or 'class <id>' for an unnamed class."""
        return self.name or f"class {self.id}"


class ClassTable:
    """Classes ordered by id (1 or more; 0 always means unlabelled)."""

    def __init__(self, classes: Iterable[ClassInfo] = ()) -> None:
        self._classes = {int(c.id): c for c in sorted(classes, key=lambda c: int(c.id))}

    @classmethod
    def from_ids(cls, ids: Iterable[int], names: Mapping[int, str | None] | None = None,
                 colors: Mapping[int, str | None] | None = None) -> "ClassTable":
        """A table of ``ids`` with the names and colours (``{id: ...}``, partial or None) known for them."""
        names, colors = _by_id(names), _by_id(colors)
        return cls(ClassInfo(int(i), names.get(int(i)), colors[int(i)].lower() if int(i) in colors else None)
                   for i in ids)

    # -- reading ----------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[ClassInfo]:
        return iter(self._classes.values())

    def __len__(self) -> int:
        return len(self._classes)

    def __contains__(self, class_id: int) -> bool:
        return int(class_id) in self._classes

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ClassTable) and list(self) == list(other)

    def __repr__(self) -> str:
        return f"ClassTable({list(self)!r})"

    @property
    def ids(self) -> np.ndarray:
        return np.array(list(self._classes), dtype=np.int64)

    def name(self, class_id: int) -> str:
        """The class's label, 'class <id>' for unnamed or unknown ids."""
        known = self._classes.get(int(class_id))
        return known.label if known else f"class {int(class_id)}"

    def color(self, class_id: int) -> str | None:
        known = self._classes.get(int(class_id))
        return known.color if known else None

    @property
    def names(self) -> dict[int, str]:
        """{id: name} of the named classes."""
        return {c.id: c.name for c in self if c.name}

    @property
    def colors(self) -> dict[int, str]:
        """{id: '#rrggbb'} of the coloured classes."""
        return {c.id: c.color for c in self if c.color}

    # -- deriving ---------------------------------------------------------------------------------
    def merged(self, other: "ClassTable") -> "ClassTable":
        """This table's classes plus ``other``'s: where both know a name or colour, this one's wins."""
        ids = sorted(set(self._classes) | {c.id for c in other})
        return ClassTable(ClassInfo(i, self.names.get(i) or other.names.get(i),
                                    self.colors.get(i) or other.colors.get(i)) for i in ids)

    def subset(self, ids: Iterable[int]) -> "ClassTable":
        """The classes ``ids``, with what this table knows of them."""
        return ClassTable.from_ids(ids, self.names, self.colors)

    def completed(self) -> "ClassTable":
        """Every class coloured: known colours kept, the others the palette's in id order, skipping
        palette colours already taken."""
        taken = set(self.colors.values())
        index, classes = 0, []
        for info in self:
            color = info.color
            if color is None:
                while palette_color(index) in taken:
                    index += 1
                color = palette_color(index)
                index += 1
            classes.append(ClassInfo(info.id, info.name, color))
        return ClassTable(classes)

    # -- JSON -------------------------------------------------------------------------------------
    def to_json(self) -> list[dict[str, Any]]:
        return [{"id": c.id, "name": c.name, "color": c.color} for c in self]

    @classmethod
    def from_json(cls, items: Iterable[Mapping[str, Any]]) -> "ClassTable":
        return cls(ClassInfo(int(item["id"]), item.get("name"), item.get("color")) for item in items)


def _by_id(values: Mapping[int, str | None] | None) -> dict[int, str]:
    return {int(k): v for k, v in (values or {}).items() if v}
