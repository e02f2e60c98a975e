"""Where the next labels help most: points of the scene the network is least sure of, spread out.

Labelling is the costly part of an analyst's work, and a label teaches most where the network hesitates
between two classes (a small margin between its two highest probabilities), not where it is already
sure. Taken alone, the least sure pixels crowd into the one field the network finds hardest: the rules
here also keep a minimum spacing between points and share them out over the predicted classes, so a
round of labelling visits every kind of ground. ``tests/benchmarks/bench_suggest.py`` measures each
rule against random pixels and the least confident ones.

Whole scenes stream past block by block (``SuggestionPool``) keeping only each block's most
uncertain pixels, so memory does not grow with the scene.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: How points are chosen: ``balanced`` (the default) takes the smallest margins class by predicted
#: class in turn; ``margin`` the smallest margins whatever the class; ``least_confident`` the lowest top
#: probabilities; ``random`` any pixel. All but ``random`` keep the spacing.
RULES = ("balanced", "margin", "least_confident", "random")
DEFAULT_RULE = "balanced"


@dataclass(frozen=True)
class Candidates:
    """Pixels that may be suggested: positions in the scene and the network's probabilities there."""
    rows: np.ndarray
    cols: np.ndarray
    probabilities: np.ndarray  # (n, classes)

    @property
    def ranked(self) -> tuple[np.ndarray, np.ndarray]:
        """(top class, runner-up class) indices of each pixel."""
        order = np.argsort(-self.probabilities, axis=1, kind="stable")
        return order[:, 0], order[:, 1]

    @property
    def margins(self) -> np.ndarray:
        """Top probability minus the runner-up's: 0 where the network cannot choose."""
        top_two = -np.partition(-self.probabilities, 1, axis=1)[:, :2]
        return top_two[:, 0] - top_two[:, 1]

    def take(self, index: np.ndarray) -> Candidates:
        return Candidates(self.rows[index], self.cols[index], self.probabilities[index])

    @staticmethod
    def joined(parts: list[Candidates], n_classes: int) -> Candidates:
        if not parts:
            return Candidates(np.zeros(0, int), np.zeros(0, int), np.zeros((0, n_classes), np.float32))
        return Candidates(*(np.concatenate([getattr(p, key) for p in parts]) for key in ("rows", "cols", "probabilities")))


def choose(candidates: Candidates, n: int, spacing: int, rule: str = DEFAULT_RULE, seed: int = 0) -> np.ndarray:
    """Indices into ``candidates`` of up to ``n`` points, best first, under ``rule`` (one of RULES);
    no two of them closer than ``spacing`` pixels along rows or columns (all rules but ``random``)."""
    if rule not in RULES:
        raise ValueError(f"rule '{rule}' is not one of {', '.join(RULES)}")
    if rule == "random":
        count = min(n, len(candidates.rows))
        return np.random.default_rng(seed).choice(len(candidates.rows), count, replace=False)
    if rule == "least_confident":
        return _spaced(candidates, np.argsort(candidates.probabilities.max(axis=1), kind="stable"), n, spacing)
    order = np.argsort(candidates.margins, kind="stable")
    if rule == "balanced":
        order = _class_by_class(order, candidates.ranked[0][order])
    return _spaced(candidates, order, n, spacing)


def _class_by_class(order: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """``order`` (most uncertain first) rearranged so that predicted classes take turns: the first of
    each class, then the second of each, and so on, a class's turn going by its first pixel's rank."""
    turn = np.empty(len(order), dtype=np.int64)
    for cls in np.unique(classes):
        where = np.flatnonzero(classes == cls)
        turn[where] = np.arange(len(where))
    return order[np.lexsort((np.arange(len(order)), turn))]


def _spaced(candidates: Candidates, order: np.ndarray, n: int, spacing: int) -> np.ndarray:
    """The first ``n`` of ``order`` that keep ``spacing`` from every point taken before them."""
    chosen: list[int] = []
    rows, cols = candidates.rows, candidates.cols
    for index in order:
        if len(chosen) == n:
            break
        if chosen and np.any(np.maximum(np.abs(rows[chosen] - rows[index]), np.abs(cols[chosen] - cols[index]))
                             < spacing):
            continue
        chosen.append(int(index))
    return np.array(chosen, dtype=np.int64)


class SuggestionPool:
    """The most uncertain pixels of a scene seen block by block: of each block, the ``per_block``
    smallest margins among its usable pixels (valid, not excluded)."""

    def __init__(self, n_classes: int, per_block: int):
        self.n_classes, self.per_block = n_classes, per_block
        self._parts: list[Candidates] = []

    def add(self, top: int, left: int, probabilities: np.ndarray, usable: np.ndarray) -> None:
        """Adds the block whose pixel (0, 0) is the scene's (top, left): its (rows, cols, classes)
        probabilities and the (rows, cols) mask of pixels that may be suggested."""
        rows, cols = np.nonzero(usable)
        block = Candidates(rows + top, cols + left, probabilities[rows, cols])
        if len(rows) > self.per_block:
            block = block.take(np.argpartition(block.margins, self.per_block)[:self.per_block])
        self._parts.append(block)

    def candidates(self) -> Candidates:
        return Candidates.joined(self._parts, self.n_classes)


def reason(probabilities: np.ndarray, names: list[str], rule: str = DEFAULT_RULE) -> str:
    """Why a point with these class ``probabilities`` was chosen, in an analyst's words."""
    first, second = np.argsort(-probabilities, kind="stable")[:2]
    hesitation = (f"the network hesitates between {names[first]} ({100 * probabilities[first]:.0f}%) and "
                  f"{names[second]} ({100 * probabilities[second]:.0f}%)")
    if rule == "balanced":
        return hesitation + f": one of the least sure pixels it maps as {names[first]}"
    if rule == "random":
        return "drawn at random"
    return hesitation
