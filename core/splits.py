"""Stratified, seeded splits of the labelled pixels into training, validation and test sets.

``paper``, ``fraction`` and ``count`` draw pixels at random per class, as the paper and most
papers on these scenes do. Their overlapping patches mean a test pixel usually lies inside some
training patch (and its spectrum was seen in training), which inflates accuracy. ``disjoint``
cuts each class into spatially contiguous segments and then drops every training pixel whose
S x S patch would reach a test pixel, so no test pixel is ever seen in training: the figure to
expect on new ground.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
from numpy.typing import ArrayLike
from scipy import ndimage

from .errors import InputError
from .settings import DISJOINT_TEST_FRACTION, split_value_problem


class SplitError(InputError):
    """A split that the labelled pixels cannot satisfy. ``classes`` names the class ids at fault when
    the split is possible without them, so a caller may choose to drop them instead of failing."""

    def __init__(self, message: str, classes: Iterable[int] = ()) -> None:
        super().__init__(message)
        self.classes = tuple(int(c) for c in classes)


@dataclass
class Split:
    """Positions (into the labelled-pixel arrays) of each set."""
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    method: str
    value: float

    def describe(self) -> str:
        value = "" if self.method == "paper" else f" {self.value:g}"
        return (f"{self.method}{value}: {len(self.train)} training, {len(self.val)} validation, "
                f"{len(self.test)} test pixels")


def labelled_pixels(label_grid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """rows, cols and labels of the non-zero pixels of a (H, W) label grid."""
    rows, cols = np.nonzero(label_grid)
    return rows, cols, np.asarray(label_grid)[rows, cols]


def _name(cls, class_names):
    name = (class_names or {}).get(int(cls))
    return f"class {int(cls)}" + (f" ({name})" if name else "")


def _split_class(members, n_first, rng):
    members = rng.permutation(members)
    return members[:n_first], members[n_first:]


def _random_split(labels, n_train_of, seed, class_names):
    """Per class: ``n_train_of(count)`` training pixels, the rest halved into validation and test."""
    rng = np.random.default_rng(seed)
    train, val, test = [], [], []
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        n_train = n_train_of(len(members))
        if n_train < 1 or len(members) - n_train < 2:
            raise SplitError(
                f"{_name(cls, class_names)} has only {len(members)} labelled pixels: too few for "
                f"{n_train} training pixels plus at least one validation and one test pixel; label "
                f"more pixels of it, remove it from the ground truth, or change the split")
        t, rest = _split_class(members, n_train, rng)
        v, s = _split_class(rest, len(rest) // 2, rng)
        train.append(t)
        val.append(v)
        test.append(s)
    return [np.sort(np.concatenate(part)) for part in (train, val, test)]


def _paper_split(labels, seed, class_names):
    """30% test, the remaining 70% halved into training and validation (the paper's text)."""
    rng = np.random.default_rng(seed)
    train, val, test = [], [], []
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        n_test = int(round(0.3 * len(members)))
        if len(members) < 3 or n_test < 1:
            raise SplitError(
                f"{_name(cls, class_names)} has only {len(members)} labelled pixels: the paper split "
                f"needs at least 3 (test, training and validation); label more pixels of it or remove it")
        s, rest = _split_class(members, n_test, rng)
        t, v = _split_class(rest, (len(rest) + 1) // 2, rng)
        train.append(t)
        val.append(v)
        test.append(s)
    return [np.sort(np.concatenate(part)) for part in (train, val, test)]


def _near(rows, cols, among, window):
    """Which pixels (rows, cols) have a ``window`` x ``window`` patch reaching a pixel where ``among`` is true."""
    grid = np.zeros((rows.max() + 1, cols.max() + 1), dtype=bool)
    grid[rows[among], cols[among]] = True
    return ndimage.maximum_filter(grid, size=window, mode="constant", cval=False)[rows, cols]


def _disjoint_split(rows, cols, labels, window, test_fraction, seed, class_names):
    """Per class, pixels are ordered along a seeded direction across the scene and cut into
    contiguous segments: training, then validation, then test. Validation lies between training
    and test, and any training pixel whose patch still reaches a test pixel (of any class) is
    dropped."""
    test_fraction = DISJOINT_TEST_FRACTION if test_fraction is None else float(test_fraction)
    angle = np.random.default_rng(seed).uniform(0, 2 * np.pi)
    position = rows * np.sin(angle) + cols * np.cos(angle)
    pixel_set = np.empty(len(labels), dtype=int)
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        members = members[np.argsort(position[members], kind="stable")]
        n_test = int(round(test_fraction * len(members)))
        n_train = (len(members) - n_test + 1) // 2
        pixel_set[members[:n_train]] = 0
        pixel_set[members[n_train:len(members) - n_test]] = 1
        pixel_set[members[len(members) - n_test:]] = 2
    dropped = _near(rows, cols, pixel_set == 2, window) & (pixel_set == 0)
    parts = [np.flatnonzero((pixel_set == s) & ~dropped) for s in range(3)]
    classes = np.unique(labels)
    for name, part in zip(("training", "validation", "test"), parts):
        missing = [c for c in classes if not np.any(labels[part] == c)]
        if missing:
            raise SplitError(
                f"the disjoint split (window {window}) leaves no {name} pixel of "
                f"{', '.join(_name(c, class_names) for c in missing)}: these classes are too small or too "
                f"compact to hold training pixels at least {window // 2 + 1} pixels away from their test "
                f"pixels; label more of them, remove them, use a smaller window or a random split",
                classes=missing)
    return parts


def validation_into_training(split: Split, rows: ArrayLike, cols: ArrayLike, window: int) -> Split:
    """``split`` with its validation pixels moved into training, minus any whose patch reaches a test
    pixel (so the disjoint split stays disjoint), and no validation left: once the recipe is fixed,
    the pixels that chose it are better used to fit it, the more so in the disjoint split where the
    validation segment lies next to the test segment."""
    rows, cols = np.asarray(rows), np.asarray(cols)
    test = np.zeros(len(rows), dtype=bool)
    test[split.test] = True
    val = split.val[~_near(rows, cols, test, window)[split.val]]
    return Split(np.sort(np.concatenate([split.train, val])), split.val[:0], split.test, split.method, split.value)


def make_split(rows: ArrayLike, cols: ArrayLike, labels: ArrayLike, method: str = "paper", value: float | None = None,
               seed: int = 0, window: int = 11, class_names: Mapping[int, str] | None = None) -> Split:
    """Splits labelled pixels (parallel arrays) by ``method``:

    - ``paper``: 30% test, the rest halved into training and validation;
    - ``fraction``: ``value`` (0-1) of each class for training, the rest halved into validation and test;
    - ``count``: ``value`` pixels of each class for training, the rest halved likewise;
    - ``disjoint``: ``value`` (default 0.3) of each class for test, taken as one spatially contiguous
      segment, the rest as validation then training segments; no test pixel in any training patch.
    """
    problem = split_value_problem(method, value)
    if problem:
        raise SplitError(f"split {method} {'' if value is None else value}: {problem}")
    labels = np.asarray(labels)
    if method == "paper":
        parts = _paper_split(labels, seed, class_names)
    elif method == "fraction":
        parts = _random_split(labels, lambda n: max(1, int(round(value * n))), seed, class_names)
    elif method == "count":
        # cast: split_value_problem has ruled out None for the count split.
        parts = _random_split(labels, lambda n: int(cast(float, value)), seed, class_names)
    else:
        parts = _disjoint_split(np.asarray(rows), np.asarray(cols), labels, window, value, seed, class_names)
    train, val, test = parts
    return Split(train, val, test, method=method, value=float(value) if value is not None else 0.0)


def make_split_per_scene(rows: ArrayLike, cols: ArrayLike, labels: ArrayLike, scenes: ArrayLike, method: str = "paper",
                         value: float | None = None, seed: int = 0, window: int = 11,
                         class_names: Mapping[int, str] | None = None,
                         scene_names: Sequence[str] | None = None) -> Split:
    """``make_split`` within each scene (``scenes``: the scene index of each labelled pixel), pooled:
    every scene gives its own training, validation and test pixels (a disjoint split holds out
    ground within each scene), so no scene is only trained on or only tested on."""
    rows, cols, labels, scenes = (np.asarray(a) for a in (rows, cols, labels, scenes))
    parts: tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]] = ([], [], [])
    for scene in np.unique(scenes):
        members = np.flatnonzero(scenes == scene)
        try:
            split = make_split(rows[members], cols[members], labels[members], method, value, seed, window,
                               class_names)
        except SplitError as error:
            name = scene_names[scene] if scene_names else f"scene {scene + 1}"
            raise SplitError(f"{name}: {error}", classes=error.classes) from None
        for pooled, part in zip(parts, (split.train, split.val, split.test)):
            pooled.append(members[part])
    train, val, test = (np.sort(np.concatenate(part)) for part in parts)
    return Split(train, val, test, method=method, value=float(value) if value is not None else 0.0)
