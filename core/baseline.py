"""The plain pixel classifiers every training is compared with: an RBF support vector machine on the
standardised spectra of the same training pixels, and a random forest on the spectra (what the
classification plugins analysts already use default to), both scored on the same test pixels.

On new ground (the disjoint split) a patch CNN can lose to such a classifier, which sees only each
pixel's own spectrum; an analyst should see which is better on their data before trusting a map.
The spectra are gathered while the scene streams past for the PCA, so the baseline costs no extra
read. C and gamma are chosen on the validation pixels by a local search of a small grid; the forest
needs no tuning. To stay within seconds, training pixels beyond ``MAX_FIT`` and validation pixels
beyond ``MAX_TUNE`` are subsampled per class (the same training sample for both), and at most
``MAX_PIXELS`` labelled pixels are gathered at all; the record says how many were used.
"""
from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from .blocks import Block
from .metrics import accuracy_report

if TYPE_CHECKING:
    from .splits import Split

#: Labelled pixels whose spectra are gathered (a random subset beyond this).
MAX_PIXELS = 60000
#: Training pixels the SVM is fitted on, stratified by class.
MAX_FIT = 3000
#: Validation pixels each candidate SVM is scored on, stratified by class: scoring costs more than
#: fitting (Indian Pines' paper split: 0.3 s to fit, 1.0 s to score 3,000 pixels).
MAX_TUNE = 1000
C_GRID = (1.0, 10.0, 100.0, 1000.0)
#: gamma as multiples of 1 / bands (scikit-learn's "scale" for standardised spectra).
GAMMA_FACTORS = (0.1, 1.0, 10.0)
#: Where the search of the C x gamma grid starts: the best of the grid on Indian Pines' and
#: Salinas-A's paper and disjoint splits.
START = (2, 1)
METHOD = "RBF SVM on standardised spectra"
#: Training pixels each candidate SVM of the search is fitted on (a stratified sample of the MAX_FIT);
#: the chosen C and gamma are then fitted on them all. A fit's cost grows faster than its pixels, and
#: a candidate's scoring with its support vectors: on Indian Pines the SVM took 2.1 s of CPU instead of
#: 5.6 (paper split, seeds 0-2) and 1.8 instead of 4.3 (disjoint, seeds 0-5), scoring 86.7% and 53.1%
#: OA on the test pixels against 87.2% and 53.5%; Salinas-A 99.5 and 95.4% against 99.6 and 95.3%.
MAX_SEARCH = 1000
#: Trees of the forest, scikit-learn's and EnMAP-Box's default: against 200 trees, Indian Pines' paper
#: split 82.44% against 82.46% OA (seeds 0-2), its disjoint split 46.72 against 46.82% (seeds 0-5),
#: Salinas-A 98.98 / 89.42% against 98.92 / 89.42%, in half the time (1.8 s of CPU on Indian Pines).
FOREST_TREES = 100
FOREST_METHOD = f"Random forest ({FOREST_TREES} trees) on the spectra"


class PixelSpectra:
    """Raw spectra of chosen pixels of the scene, taken from its blocks as they pass.

    Pixels are kept as sorted row-major positions, so memory is O(pixels x bands) whatever the
    scene's size.
    """

    def __init__(self, mask: np.ndarray, kept: ArrayLike, limit: int = MAX_PIXELS, seed: int = 0) -> None:
        height, width = mask.shape
        positions = np.flatnonzero(mask)
        if len(positions) > limit:
            positions = np.sort(np.random.default_rng(seed).choice(positions, limit, replace=False))
        self.width, self.positions, self.kept = width, positions, np.asarray(kept)
        self.spectra = np.zeros((len(positions), len(self.kept)), dtype=np.float32)

    def gathering(self, blocks: Iterable[Block]) -> Iterator[Block]:
        """Passes ``blocks`` on, copying the spectra of the chosen pixels in each."""
        for block in blocks:
            self._take(block)
            yield block

    def _take(self, block: Block) -> None:
        top, _, left, _ = block.halo
        rows, cols = block.shape
        first = np.searchsorted(self.positions, block.row * self.width)
        last = np.searchsorted(self.positions, (block.row + rows) * self.width)
        slots = np.arange(first, last)
        r, c = np.divmod(self.positions[slots], self.width)
        inside = (c >= block.col) & (c < block.col + cols)
        slots, r, c = slots[inside], r[inside] - block.row + top, c[inside] - block.col + left
        self.spectra[slots] = block.data[r, c][:, self.kept]

    def slots(self, rows: ArrayLike, cols: ArrayLike) -> np.ndarray:
        """Row of ``spectra`` for each pixel (rows[i], cols[i]), -1 where it was not gathered."""
        wanted = np.asarray(rows, dtype=np.int64) * self.width + np.asarray(cols)
        if not len(self.positions):
            return np.full(len(wanted), -1)
        found = np.minimum(np.searchsorted(self.positions, wanted), len(self.positions) - 1)
        return np.where(self.positions[found] == wanted, found, -1)


def stratified_sample(labels, limit, rng):
    """Indices of at most ``limit`` of ``labels``, each class keeping its share (at least one)."""
    if len(labels) <= limit:
        return np.arange(len(labels))
    chosen = []
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        n = max(1, int(round(limit * len(members) / len(labels))))
        chosen.append(rng.choice(members, min(n, len(members)), replace=False))
    return np.sort(np.concatenate(chosen))


class BaselinePixels:
    """The pixels both baselines use, with their spectra: the split's training, validation and test
    pixels that were gathered, and the stratified samples of at most MAX_FIT fitted and tuned on.

    ``rows``, ``cols`` and ``labels`` (class ids) are the labelled pixels ``split`` indexes;
    ``spectra`` the PixelSpectra gathered over them. Drawn once for both baselines, so they are
    fitted on the same sample by construction."""

    def __init__(self, spectra: PixelSpectra, rows: ArrayLike, cols: ArrayLike, labels: ArrayLike, split: "Split",
                 seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.spectra, self.slots, self.labels = spectra, spectra.slots(rows, cols), np.asarray(labels)
        parts = {name: np.asarray(part)[self.slots[np.asarray(part)] >= 0]
                 for name, part in (("train", split.train), ("val", split.val), ("test", split.test))}
        self.fit = parts["train"][stratified_sample(self.labels[parts["train"]], MAX_FIT, rng)]
        self.tune = parts["val"][stratified_sample(self.labels[parts["val"]], MAX_TUNE, rng)]
        self.test = parts["test"]
        self.counts = {"n_train": len(self.fit), "n_train_available": len(split.train), "n_val": len(self.tune),
                       "n_test": len(self.test), "n_test_available": len(split.test)}

    def of(self, part: np.ndarray) -> np.ndarray:
        """The raw spectra of the pixels ``part``."""
        return self.spectra.spectra[self.slots[part]]

    def scored(self, predicted: np.ndarray, class_names: Mapping[int, str] | None) -> dict[str, Any]:
        """core.metrics.accuracy_report of ``predicted`` on the test pixels."""
        return accuracy_report(self.labels[self.test], predicted, np.unique(self.labels), class_names)


def svm_baseline(pixels: BaselinePixels, class_names: Mapping[int, str] | None = None,
                 pool: np.ndarray | None = None, keep: bool = False, seed: int = 0) -> dict[str, Any]:
    """Fits the SVM on the training sample of ``pixels`` and scores it on their test pixels.

    Returns a JSON-ready dict: method, chosen C and gamma, pixel counts, seconds and the
    ``accuracy`` of core.metrics.accuracy_report. Given
    ``pool``, raw spectra (pixels, kept bands) of more pixels, the dict also holds the class ids the
    SVM gives them under ``pool_classes`` (core.cotraining uses them; not JSON-ready). With ``keep``
    (fusion), it also holds the SVM with probabilities (core.pixel_svm.calibrated, folds drawn with
    ``seed``) under ``pixel_svm`` and its class probabilities of the test pixels, in the order of the
    labels' classes, under ``test_probabilities``, with the seconds the calibration took.
    """
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    start = time.perf_counter()
    scaler = StandardScaler().fit(pixels.of(pixels.fit))
    x_fit, y_fit = scaler.transform(pixels.of(pixels.fit)), pixels.labels[pixels.fit]
    C, gamma = _kernel_settings(START, x_fit.shape[1])
    if len(pixels.tune) and len(np.unique(y_fit)) > 1:
        searched = stratified_sample(y_fit, MAX_SEARCH, np.random.default_rng(0))
        C, gamma = _searched(x_fit[searched], y_fit[searched], scaler.transform(pixels.of(pixels.tune)),
                             pixels.labels[pixels.tune])
    svm = SVC(C=C, gamma=gamma).fit(x_fit, y_fit)
    predicted = svm.predict(scaler.transform(pixels.of(pixels.test)))
    extra: dict[str, Any] = {} if pool is None else {
        "pool_classes": svm.predict(scaler.transform(pool)) if len(pool) else np.zeros(0, dtype=pixels.labels.dtype)}
    seconds = time.perf_counter() - start
    if keep:
        from .pixel_svm import calibrated

        extra["pixel_svm"] = calibrated(svm, scaler, pixels.of(pixels.fit), y_fit, np.unique(pixels.labels), seed)
        extra["test_probabilities"] = extra["pixel_svm"].probabilities(pixels.of(pixels.test))
        extra["calibration_seconds"] = time.perf_counter() - start - seconds
    return {**extra, "method": METHOD, "name": "SVM baseline", "C": svm.C, "gamma": svm.gamma, **pixels.counts,
            "seconds": seconds, "accuracy": pixels.scored(predicted, class_names)}


def _searched(x_fit: np.ndarray, y_fit: np.ndarray, x_tune: np.ndarray, y_tune: np.ndarray) -> tuple[float, float]:
    """(C, gamma) where the search of the C x gamma grid ends, each candidate fitted on ``x_fit`` and
    scored on the tuning pixels: from START, the grid's neighbours of the best so far (``_neighbours``)
    until none scores better; equals keep the first. Seven to nine fits where the whole grid took
    twelve: the grid's choice on Indian Pines' paper and disjoint splits and Salinas-A's paper split
    (seeds 0 and 1), within 0.2 points of its validation score on Salinas-A's disjoint split. libsvm
    lets go of Python's lock while it fits, so a step's fits run side by side, one per core."""
    from sklearn.svm import SVC

    bands = x_fit.shape[1]
    scores: dict[tuple[int, int], float] = {}

    def scored(cell):
        C, gamma = _kernel_settings(cell, bands)
        return SVC(C=C, gamma=gamma).fit(x_fit, y_fit).score(x_tune, y_tune)

    best = START
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as workers:
        while True:
            cells = [cell for cell in (best, *_neighbours(best)) if cell not in scores]
            scores.update(zip(cells, workers.map(scored, cells)))
            step = max((best, *_neighbours(best)), key=lambda cell: scores[cell])
            if scores[step] <= scores[best]:
                return _kernel_settings(best, bands)
            best = step


def _kernel_settings(cell: tuple[int, int], bands: int) -> tuple[float, float]:
    """(C, gamma) of a cell of the C x gamma grid for spectra of ``bands`` bands."""
    return C_GRID[cell[0]], GAMMA_FACTORS[cell[1]] / bands


def _neighbours(cell: tuple[int, int]) -> list[tuple[int, int]]:
    """The cells of the C x gamma grid one step from ``cell`` in C or gamma, or along the ridge where
    a larger C goes with a smaller gamma (the kernel's good region lies along it)."""
    c, g = cell
    return [(i, j) for i, j in ((c - 1, g), (c + 1, g), (c, g - 1), (c, g + 1), (c + 1, g - 1), (c - 1, g + 1))
            if 0 <= i < len(C_GRID) and 0 <= j < len(GAMMA_FACTORS)]


def forest_baseline(pixels: BaselinePixels, class_names: Mapping[int, str] | None = None,
                    seed: int = 0, keep: bool = False) -> dict[str, Any]:
    """A random forest of FOREST_TREES trees (seeded by ``seed``) fitted on the training sample of
    ``pixels`` (raw spectra: trees need no scaling) and scored on their test pixels: method, pixel
    counts, fit and predict seconds and the ``accuracy`` of core.metrics.accuracy_report. With
    ``keep`` (fusion), the dict also holds the forest as core.forest.PixelForest under ``pixel_forest``
    and its class probabilities of the test pixels (``test``: their indices into the labelled pixels),
    in the order of the labels' classes, under ``test_probabilities`` (none of them JSON-ready)."""
    from sklearn.ensemble import RandomForestClassifier

    from .forest import PixelForest

    start = time.perf_counter()
    forest = RandomForestClassifier(n_estimators=FOREST_TREES, n_jobs=-1, random_state=seed)
    forest.fit(pixels.of(pixels.fit), pixels.labels[pixels.fit])
    fitted = time.perf_counter()
    kept: dict[str, Any] = {}
    if keep:
        # The kept forest's walk gives the probabilities fusion needs and the forest's own labels at once
        # (the class shares' argmax, as scikit-learn's predict takes it).
        class_ids = np.unique(pixels.labels)
        kept["pixel_forest"] = PixelForest.from_fitted(forest, class_ids)
        kept["test_probabilities"] = kept["pixel_forest"].probabilities(pixels.of(pixels.test))
        kept["test"] = pixels.test
        predicted = class_ids[np.argmax(kept["test_probabilities"], axis=-1)]
    else:
        predicted = forest.predict(pixels.of(pixels.test))
    done = time.perf_counter()
    return {**kept, "method": FOREST_METHOD, "name": "random forest", **pixels.counts, "fit_seconds": fitted - start,
            "predict_seconds": done - fitted, "seconds": done - start,
            "accuracy": pixels.scored(predicted, class_names)}


def pixel_baselines(spectra: PixelSpectra, rows: ArrayLike, cols: ArrayLike, labels: ArrayLike, split: "Split",
                    class_names: Mapping[int, str] | None = None, seed: int = 0,
                    pool: np.ndarray | None = None, keep: bool = False) -> dict[str, dict[str, Any]]:
    """The SVM (``svm_baseline``, with ``pool``) and the forest (``forest_baseline``), both kept for
    fusion with ``keep``, on the same BaselinePixels, in one call, so the child process the plugin runs
    them in starts once: {"svm": ..., "forest": ...}."""
    pixels = BaselinePixels(spectra, rows, cols, labels, split, seed)
    return {"svm": svm_baseline(pixels, class_names, pool, keep, seed),
            "forest": forest_baseline(pixels, class_names, seed, keep)}


def verdict(network_accuracy: Mapping[str, Any], baseline: Mapping[str, Any], model_name: str = "3D CNN") -> str:
    """One sentence saying whether the model (``model_name``: the network, or its fusion) or a
    baseline (by default the SVM) did better on the test pixels."""
    name = baseline.get("name", "SVM baseline")
    cnn, svm = network_accuracy["overall_accuracy"], baseline["accuracy"]["overall_accuracy"]
    sample = "" if baseline["n_test"] == baseline["n_test_available"] else \
        f" (the {name} scored on {baseline['n_test']:,} of the {baseline['n_test_available']:,} test pixels)"
    if abs(cnn - svm) < 0.005:
        return (f"The {model_name} and the {name} are as good as each other on these test pixels: "
                f"OA {100 * cnn:.2f}% and {100 * svm:.2f}%{sample}.")
    better, worse = (model_name, name) if cnn > svm else (name, model_name)
    return (f"The {better} is better than the {worse} on these test pixels: OA {100 * max(cnn, svm):.2f}% "
            f"against {100 * min(cnn, svm):.2f}%{sample}.")
