"""Where the next labels help most: points of the scene the network is least sure of, spread out.

Labelling is the costly part of an analyst's work, and a label teaches most where the network hesitates
between two classes (a small margin between its two highest probabilities), not where it is already
sure. Taken alone, the least sure pixels crowd into the one field the network finds hardest, often a
lone mixed pixel at a field's edge; and on new ground a network can be sure and wrong. The default
rule, ``coverage``, therefore weighs the uncertainty of the area around a pixel by how far the pixel
lies from the labels (and the points already chosen), so that a round of labelling goes to the unsure
ground the labels have not reached; every rule keeps a minimum spacing between points.
``tests/benchmarks/bench_suggest.py`` measures each rule against random pixels and the least
confident ones: on Indian Pines' disjoint split ``coverage`` gained the most of the rules, but only a
little more than random labels.

Whole scenes stream past block by block (``SuggestionPool``) keeping only each block's most
uncertain pixels, so memory does not grow with the scene.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: How points are chosen: ``coverage`` weighs the area uncertainty by how far the pixel lies from the
#: labels and the points already chosen (``_covering``); ``area`` takes the centres of the areas where the network is least sure
#: (the mean uncertainty around each pixel, ``area_uncertainty``); ``balanced`` the smallest margins
#: class by predicted class in turn; ``margin`` the smallest margins whatever the class;
#: ``least_confident`` the lowest top probabilities; ``random`` any pixel. All but ``random`` keep the
#: spacing.
#: The rules fast3dcnn:suggest offers; the others are the baselines bench_suggest.py compares them with.
CHOICES = ("coverage", "area", "balanced", "margin")
RULES = (*CHOICES, "least_confident", "random")
DEFAULT_RULE = "coverage"


@dataclass(frozen=True)
class Candidates:
    """Pixels that may be suggested: positions in the scene and the network's probabilities there."""
    rows: np.ndarray
    cols: np.ndarray
    probabilities: np.ndarray  # (n, classes)
    area: np.ndarray  # (n,) the mean uncertainty around each pixel (area_uncertainty)

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
        return Candidates(self.rows[index], self.cols[index], self.probabilities[index], self.area[index])

    @staticmethod
    def joined(parts: list[Candidates], n_classes: int) -> Candidates:
        if not parts:
            return Candidates(np.zeros(0, int), np.zeros(0, int), np.zeros((0, n_classes), np.float32), np.zeros(0))
        return Candidates(*(np.concatenate([getattr(p, key) for p in parts])
                            for key in ("rows", "cols", "probabilities", "area")))


def choose(candidates: Candidates, n: int, spacing: int, rule: str = DEFAULT_RULE, seed: int = 0,
           labelled: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Indices into ``candidates`` of up to ``n`` points, best first, under ``rule`` (one of RULES);
    no two of them closer than ``spacing`` pixels along rows or columns (all rules but ``random``).
    ``labelled`` (rows, cols) are the pixels already labelled, which ``coverage`` keeps away from."""
    if rule not in RULES:
        raise ValueError(f"rule '{rule}' is not one of {', '.join(RULES)}")
    if rule == "coverage":
        return _covering(candidates, n, spacing, labelled)
    if rule == "random":
        count = min(n, len(candidates.rows))
        return np.random.default_rng(seed).choice(len(candidates.rows), count, replace=False)
    if rule == "least_confident":
        return _spaced(candidates, np.argsort(candidates.probabilities.max(axis=1), kind="stable"), n, spacing)
    if rule == "area":
        return _spaced(candidates, np.argsort(-candidates.area, kind="stable"), n, spacing)
    order = np.argsort(candidates.margins, kind="stable")
    if rule == "balanced":
        order = _class_by_class(order, candidates.ranked[0][order])
    return _spaced(candidates, order, n, spacing)


def _covering(candidates, n, spacing, labelled):
    """Greedy: each next point the candidate with the most area uncertainty times how new its ground
    is, 1 - exp(-d / spacing) for its distance d (along rows or columns) to the nearest labelled or
    chosen pixel, at least ``spacing`` from the points chosen: the points go to the unsure areas that
    labels have not reached yet, and each one covers its own."""
    from scipy.spatial import cKDTree

    points = np.column_stack([candidates.rows, candidates.cols]).astype(np.float64)
    from_chosen = np.full(len(points), np.inf)
    from_known = from_chosen.copy()
    if labelled is not None and len(labelled[0]):
        from_known = cKDTree(np.column_stack(labelled).astype(np.float64)).query(points, p=np.inf)[0]
    scale = max(spacing, 1)
    chosen: list[int] = []
    while len(chosen) < n:
        score = np.where(from_chosen >= spacing, candidates.area * -np.expm1(-from_known / scale), -np.inf)
        best = int(np.argmax(score)) if len(score) else 0
        if not len(score) or not np.isfinite(score[best]):
            break
        chosen.append(best)
        step = np.abs(points - points[best]).max(axis=1)
        from_chosen, from_known = np.minimum(from_chosen, step), np.minimum(from_known, step)
    return np.array(chosen, dtype=np.int64)


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


def area_uncertainty(probabilities: np.ndarray, valid: np.ndarray, size: int) -> np.ndarray:
    """(rows, cols) mean of 1 - margin over the valid pixels of the ``size`` x ``size`` window around
    each pixel of a block's (rows, cols, classes) ``probabilities``: high inside areas the network is
    unsure of as a whole, low at a lone unsure pixel (a mixed pixel at a field's edge), which one
    label would not teach much beyond itself."""
    from scipy.ndimage import uniform_filter

    top_two = -np.partition(-probabilities, 1, axis=-1)[..., :2]
    uncertainty = np.where(valid, 1.0 - (top_two[..., 0] - top_two[..., 1]), 0.0)
    weight = uniform_filter(valid.astype(np.float64), size, mode="constant")
    return np.where(valid, uniform_filter(uncertainty, size, mode="constant") / np.maximum(weight, 1e-12), 0.0)


class SuggestionPool:
    """The most uncertain pixels of a scene seen block by block: of each block, the ``per_block``
    smallest margins and the ``per_block`` highest area uncertainties (over windows of ``size``) among
    its usable pixels (valid, not excluded)."""

    def __init__(self, n_classes: int, per_block: int, size: int):
        self.n_classes, self.per_block, self.size = n_classes, per_block, size
        self._parts: list[Candidates] = []

    def add(self, top: int, left: int, probabilities: np.ndarray, valid: np.ndarray, usable: np.ndarray) -> None:
        """Adds the block whose pixel (0, 0) is the scene's (top, left): its (rows, cols, classes)
        probabilities, the (rows, cols) mask of its valid pixels and that of the pixels that may be
        suggested."""
        area = area_uncertainty(probabilities, valid, self.size)
        rows, cols = np.nonzero(usable)
        block = Candidates(rows + top, cols + left, probabilities[rows, cols], area[rows, cols])
        if len(rows) > 2 * self.per_block:
            keep = np.union1d(np.argpartition(block.margins, self.per_block)[:self.per_block],
                              np.argpartition(-block.area, self.per_block)[:self.per_block])
            block = block.take(keep)
        self._parts.append(block)

    def candidates(self) -> Candidates:
        return Candidates.joined(self._parts, self.n_classes)


def reason(probabilities: np.ndarray, names: list[str], rule: str = DEFAULT_RULE, who: str = "the network") -> str:
    """Why a point with these class ``probabilities`` (those of ``who``: the network, or the network and
    the forest it is fused with) was chosen, in an analyst's words."""
    first, second = np.argsort(-probabilities, kind="stable")[:2]
    hesitation = (f"{who} hesitates between {names[first]} ({100 * probabilities[first]:.0f}%) and "
                  f"{names[second]} ({100 * probabilities[second]:.0f}%)")
    if rule == "balanced":
        return hesitation + f": one of the least sure pixels it maps as {names[first]}"
    if rule == "area":
        return hesitation + ", in an area it is unsure of as a whole"
    if rule == "coverage":
        return hesitation + ", in an area it is unsure of, away from the labels so far"
    if rule == "random":
        return "drawn at random"
    return hesitation
