"""Stratified, seeded splits of the labelled pixels into training, validation and test sets.

``paper``, ``fraction`` and ``count`` draw pixels at random per class, as the paper and most
papers on these scenes do. Their overlapping patches mean a test pixel usually lies inside some
training patch (and its spectrum was seen in training), which inflates accuracy. ``disjoint``
cuts each class into spatially contiguous segments and then drops every training pixel whose
S x S patch would reach a test pixel, so no test pixel is ever seen in training: the figure to
expect on new ground. ``grouped`` holds out whole fields instead (the polygons an analyst drew, or
any other groups of pixels): a field is what an analyst labels and maps at once, so a test field
the training never saw is new ground as the map will meet it. ``auto``, the default, is the
grouped split where the ground truth comes in fields and the disjoint split elsewhere.

A class too small to hold pixels out for testing is not an error: it is trained on, listed in
``Split.not_tested``, and has no test figures. An analyst cannot label a rare class into being
common, and the model should still know it. Every split gives every class training pixels; one
fails only when no class can spare a test pixel.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import cast

import numpy as np
from numpy.typing import ArrayLike

from .errors import InputError
from .settings import DISJOINT_TEST_FRACTION, HELD_OUT_SPLITS, split_value_problem

#: The set each labelled pixel falls in; DROPPED: a held-out split's training pixel near test ground.
TRAIN, VAL, TEST, DROPPED = 0, 1, 2, 3
#: For a class of n pixels: ((set, count), (set, count), set): the first count of its pixels drawn at
#: random, the second drawn from the rest, and what remains goes to the last set.
Sizes = Callable[[int], tuple[tuple[int, int], tuple[int, int], int]]


class SplitError(InputError):
    """A split that the labelled pixels cannot satisfy."""


@dataclass
class Split:
    """Positions (into the labelled-pixel arrays) of each set, and the ids of the classes with no
    test pixel (trained on, too small to hold any out)."""
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    method: str
    value: float
    not_tested: tuple[int, ...] = ()

    def describe(self) -> str:
        value = "" if self.method == "paper" else f" {self.value:g}"
        untested = f"; not tested: class {', '.join(map(str, self.not_tested))}" if self.not_tested else ""
        return (f"{self.method}{value}: {len(self.train)} training, {len(self.val)} validation, "
                f"{len(self.test)} test pixels{untested}")


def not_tested_message(class_ids: Iterable[int], class_names: Mapping[int, str] | None = None) -> str:
    """What the log and the report say of the classes a split could not test."""
    return (f"Not tested: {', '.join(_name(c, class_names) for c in class_ids)}. These classes have too few "
            f"labelled pixels (on a held-out split: too few clear of test ground) to hold any out for testing and "
            f"still train on some: they are trained on but have no test figures (the average accuracy leaves them "
            f"out). Label more pixels of them for a figure.")


def labelled_pixels(label_grid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """rows, cols and labels of the non-zero pixels of a (H, W) label grid."""
    rows, cols = np.nonzero(label_grid)
    return rows, cols, np.asarray(label_grid)[rows, cols]


def fields(label_grid: ArrayLike) -> np.ndarray:
    """A (H, W) number for each field of a label grid, 0 where unlabelled: a field is a patch of pixels
    of one class joined by their sides or corners. What the grouped split holds out: polygons drawn on
    a finer grid (or in many parts) become the patches of ground they cover at the raster's resolution,
    and neighbouring polygons of one class one field, as the map sees them."""
    from scipy import ndimage  # imported here: see _near

    label_grid = np.asarray(label_grid)
    numbers = np.zeros(label_grid.shape, dtype=np.int32)
    for cls in np.unique(label_grid[label_grid != 0]):
        patches, count = ndimage.label(label_grid == cls, structure=np.ones((3, 3), dtype=bool))
        numbers[patches > 0] = patches[patches > 0] + numbers.max()
    return numbers


def _name(cls, class_names):
    name = (class_names or {}).get(int(cls))
    return f"class {int(cls)}" + (f" ({name})" if name else "")


def _drawn(labels: np.ndarray, sizes: Sizes, seed: int) -> np.ndarray:
    """The set of each pixel, drawn at random within each class as ``sizes`` says."""
    rng = np.random.default_rng(seed)
    pixel_set = np.empty(len(labels), dtype=int)
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        (first, n_first), (second, n_second), last = sizes(len(members))
        members = rng.permutation(members)
        rest = rng.permutation(members[n_first:])
        pixel_set[members[:n_first]] = first
        pixel_set[rest[:n_second]] = second
        pixel_set[rest[n_second:]] = last
    return pixel_set


def _paper_sizes(n):
    """30% test, the remaining 70% halved into training and validation (the paper's text). A class
    of fewer than 3 pixels cannot give one to each: it is halved into training and validation."""
    n_test = int(round(0.3 * n)) if n >= 3 else 0
    return (TEST, n_test), (TRAIN, (n - n_test + 1) // 2), VAL


def _training_first(n_train_of: Callable[[int], int]) -> Sizes:
    """``n_train_of(n)`` training pixels of a class of n (all n where it asks for more), the rest
    halved into validation and test; a class with one pixel or none left after training cannot
    give one to each: that pixel goes to validation."""
    def sizes(n):
        n_train = min(n_train_of(n), n)
        rest = n - n_train
        return (TRAIN, n_train), (VAL, rest // 2 if rest >= 2 else rest), TEST
    return sizes


def _near(rows, cols, among, window):
    """Which pixels (rows, cols) have a ``window`` x ``window`` patch reaching a pixel where ``among`` is true."""
    # Imported here: the report reads this module's messages, and the plugin's toolbox loads the
    # report, which must not need scipy (it comes with the dependencies the installer adds).
    from scipy import ndimage

    grid = np.zeros((rows.max() + 1, cols.max() + 1), dtype=bool)
    grid[rows[among], cols[among]] = True
    return ndimage.maximum_filter(grid, size=window, mode="constant", cval=False)[rows, cols]


def _segments(ordered, n_test, n_pixels, n_train=None):
    """The set of each of ``n_pixels`` pixels: per class (``ordered``: its pixels along the split's
    direction), a training segment of ``n_train[class]`` pixels (default: half of those not tested),
    a validation segment and a test segment of ``n_test[class]`` pixels, in that order."""
    pixel_set = np.empty(n_pixels, dtype=int)
    for cls, members in ordered.items():
        first = (n_train or {}).get(cls, (len(members) - n_test[cls] + 1) // 2)
        pixel_set[members[:first]] = TRAIN
        pixel_set[members[first:]] = VAL
        pixel_set[members[len(members) - n_test[cls]:]] = TEST
    return pixel_set


def _untrained(ordered, pixel_set, rows, cols, window):
    """The classes (keys of ``ordered``) none of whose training pixels has a patch clear of test pixels."""
    clear = (pixel_set == TRAIN) & ~_near(rows, cols, pixel_set == TEST, window)
    return [cls for cls, members in ordered.items() if not clear[members].any()]


def _held_out(ordered, n_test, n_train, rows, cols, labels, window):
    """The set of each pixel when each class's pixels (``ordered``) are cut into a training, a
    validation and a test segment (``_segments``), and any training pixel whose patch still reaches
    a test pixel (of any class) is dropped.

    A class that would keep no training pixel (a field a few windows across, or one hemmed in by
    other classes' test ground) is cut again without a test segment: trained on, not tested. If its
    training pixels are still all within reach of other classes' test pixels, those test pixels
    become validation pixels: a little less test ground beside it is better than a model that
    cannot map the class at all, and still no training patch reaches a test pixel.
    """
    pixel_set = _segments(ordered, n_test, len(labels), n_train)
    untrained = _untrained(ordered, pixel_set, rows, cols, window)
    if untrained:
        pixel_set = _segments(ordered, {**n_test, **dict.fromkeys(untrained, 0)}, len(labels),
                              {cls: n for cls, n in n_train.items() if cls not in untrained})
        stranded = np.isin(labels, _untrained(ordered, pixel_set, rows, cols, window)) & (pixel_set == TRAIN)
        pixel_set[_near(rows, cols, stranded, window) & (pixel_set == TEST)] = VAL
    pixel_set[_near(rows, cols, pixel_set == TEST, window) & (pixel_set == TRAIN)] = DROPPED
    return pixel_set


def _along(rng, rows, cols):
    """Each pixel's position along a direction across the scene drawn from ``rng``."""
    angle = rng.uniform(0, 2 * np.pi)
    return rows * np.sin(angle) + cols * np.cos(angle)


def _disjoint_split(rows, cols, labels, window, test_fraction, seed):
    """Per class, pixels are ordered along a seeded direction across the scene and cut into
    contiguous segments: training, then validation (between training and test), then test."""
    position = _along(np.random.default_rng(seed), rows, cols)
    ordered = {cls: members[np.argsort(position[members], kind="stable")]
               for cls in np.unique(labels) for members in [np.flatnonzero(labels == cls)]}
    n_test = {cls: int(round(test_fraction * len(members))) for cls, members in ordered.items()}
    return _held_out(ordered, n_test, {}, rows, cols, labels, window)


def _closest_prefix(sizes, target):
    """How many of ``sizes``, taken in their order, sum closest to ``target``; never all of them."""
    sums = np.concatenate([[0], np.cumsum(sizes)])
    return min(int(np.argmin(np.abs(sums - target))), len(sizes) - 1)


def _grouped_split(rows, cols, labels, groups, window, test_fraction, seed):
    """Per class, whole groups (fields) in their order along a seeded direction across the scene (by
    their mean position): the last ones, whose pixels come closest to ``test_fraction`` of the class,
    are tested, the ones before them closest to half of the rest validate, and the first train;
    never every group of a class in one set. A class of one group is cut like the disjoint split.

    Why in order rather than at random: fields drawn at random scatter the test ground over the
    scene, and where fields are small beside the window (the Berlin land-cover polygons: 43-60
    fields per class on a 60 x 80 scene) no training pixel is then out of reach of a test window;
    taken along a direction, as the disjoint split's segments are, test ground is one side of the
    scene and only the band between loses its training pixels."""
    position = _along(np.random.default_rng(seed), rows, cols)
    ordered, n_test, n_train = {}, {}, {}
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        members = members[np.argsort(position[members], kind="stable")]
        ids, inverse, sizes = np.unique(groups[members], return_inverse=True, return_counts=True)
        if len(ids) < 2:
            ordered[cls], n_test[cls] = members, int(round(test_fraction * len(members)))
            continue
        inverse = inverse.ravel()
        order = np.argsort(np.bincount(inverse, weights=position[members]) / sizes, kind="stable")
        tested = _closest_prefix(sizes[order][::-1], test_fraction * len(members))
        rest = order[:len(order) - tested]
        trained = len(rest) - _closest_prefix(sizes[rest][::-1], sizes[rest].sum() / 2)
        rank = np.empty(len(ids), dtype=int)
        rank[order] = np.arange(len(ids))
        ordered[cls] = members[np.argsort(rank[inverse], kind="stable")]
        n_test[cls], n_train[cls] = int(sizes[order[len(rest):]].sum()), int(sizes[rest[:trained]].sum())
    return _held_out(ordered, n_test, n_train, rows, cols, labels, window)


def validation_into_training(split: Split, rows: ArrayLike, cols: ArrayLike, window: int) -> Split:
    """``split`` with its validation pixels moved into training, minus any whose patch reaches a test
    pixel (so the disjoint split stays disjoint), and no validation left: once the recipe is fixed,
    the pixels that chose it are better used to fit it, the more so in the disjoint split where the
    validation segment lies next to the test segment."""
    rows, cols = np.asarray(rows), np.asarray(cols)
    test = np.zeros(len(rows), dtype=bool)
    test[split.test] = True
    val = split.val[~_near(rows, cols, test, window)[split.val]]
    return replace(split, train=np.sort(np.concatenate([split.train, val])), val=split.val[:0])


def _random_sizes(method: str, value: float | None) -> Sizes:
    """How ``paper``, ``fraction`` and ``count`` size each class's sets."""
    if method == "paper":
        return _paper_sizes
    # cast: split_value_problem has ruled out None for the fraction and count splits.
    value = cast(float, value)
    if method == "fraction":
        return _training_first(lambda n: max(1, int(round(value * n))))
    return _training_first(lambda n: int(value))


def make_split(rows: ArrayLike, cols: ArrayLike, labels: ArrayLike, method: str = "paper", value: float | None = None,
               seed: int = 0, window: int = 11, groups: ArrayLike | None = None) -> Split:
    """Splits labelled pixels (parallel arrays) by ``method``:

    - ``paper``: 30% test, the rest halved into training and validation;
    - ``fraction``: ``value`` (0-1) of each class for training, the rest halved into validation and test;
    - ``count``: ``value`` pixels of each class for training, the rest halved likewise;
    - ``disjoint``: ``value`` (default 0.3) of each class for test, taken as one spatially contiguous
      segment, the rest as validation then training segments; no test pixel in any training patch;
    - ``grouped``: about ``value`` (default 0.3) of each class for test as whole groups (``groups``:
      the group, such as the field or polygon, of each pixel), as the disjoint split otherwise;
    - ``auto``: ``grouped`` where ``groups`` are given, else ``disjoint``.

    A class too small to hold any pixel out is trained on and listed in ``not_tested``.

    Several rasters laid on one canvas (core.mosaic) are split as one scene, each class over all of
    them, so a class rare in every raster is still tested once there are enough of it in all. On the
    disjoint split a class's segments then follow the seeded direction across the canvas: its test
    ground may lie in one raster or span several, and the blank rows between rasters are as high as
    a patch reaches, so the dropping of training pixels near test ground is exact there too.
    """
    problem = split_value_problem(method, value)
    if problem:
        raise SplitError(f"split {method} {'' if value is None else value}: {problem}")
    if method == "auto":
        method = "disjoint" if groups is None else "grouped"
    if method == "grouped" and groups is None:
        raise SplitError("the grouped split holds out whole fields, and this ground truth has none: use a vector "
                         "layer of polygons or lines as ground truth, or the disjoint split")
    labels, rows, cols = np.asarray(labels), np.asarray(rows), np.asarray(cols)
    if method in HELD_OUT_SPLITS:
        value = DISJOINT_TEST_FRACTION if value is None else float(value)
        pixel_set = _disjoint_split(rows, cols, labels, window, value, seed) if method == "disjoint" else \
            _grouped_split(rows, cols, labels, np.asarray(groups), window, value, seed)
    else:
        pixel_set = _drawn(labels, _random_sizes(method, value), seed)
    train, val, test = (np.flatnonzero(pixel_set == s) for s in (TRAIN, VAL, TEST))
    if not len(test):
        fewer = ", or ask for fewer training pixels per class" if method in ("fraction", "count") else ""
        raise SplitError(f"the {method} split holds no pixel out for testing: no class has enough labelled pixels "
                         f"to hold some out and still train on some; label more pixels{fewer}")
    not_tested = tuple(int(c) for c in np.setdiff1d(labels, labels[test]))
    return Split(train, val, test, method, float(value) if value is not None else 0.0, not_tested)
