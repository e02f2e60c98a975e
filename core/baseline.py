"""The plain pixel classifier every training is compared with: an RBF support vector machine on the
standardised spectra of the same training pixels, scored on the same test pixels.

On new ground (the disjoint split) a patch CNN can lose to such a classifier, which sees only each
pixel's own spectrum; an analyst should see which is better on their data before trusting a map.
The spectra are gathered while the scene streams past for the PCA, so the baseline costs no extra
read. C and gamma are chosen on the validation pixels from a small grid. To stay within seconds,
training and validation pixels beyond ``MAX_FIT`` are subsampled per class, and at most
``MAX_PIXELS`` labelled pixels are gathered at all; the record says how many were used.
"""
from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from .blocks import Block
from .metrics import accuracy_report

if TYPE_CHECKING:
    from .splits import Split

#: Labelled pixels whose spectra are gathered (a random subset beyond this).
MAX_PIXELS = 60000
#: Training (and validation) pixels the SVM is fitted (and tuned) on, stratified by class.
MAX_FIT = 3000
C_GRID = (1.0, 10.0, 100.0, 1000.0)
#: gamma as multiples of 1 / bands (scikit-learn's "scale" for standardised spectra).
GAMMA_FACTORS = (0.1, 1.0, 10.0)
METHOD = "RBF SVM on standardised spectra"


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


def _stratified(labels, limit, rng):
    """Indices of at most ``limit`` of ``labels``, each class keeping its share (at least one)."""
    if len(labels) <= limit:
        return np.arange(len(labels))
    chosen = []
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        n = max(1, int(round(limit * len(members) / len(labels))))
        chosen.append(rng.choice(members, min(n, len(members)), replace=False))
    return np.sort(np.concatenate(chosen))


def svm_baseline(spectra: PixelSpectra, rows: ArrayLike, cols: ArrayLike, labels: ArrayLike, split: "Split",
                 class_names: Mapping[int, str] | None = None, seed: int = 0,
                 pool: np.ndarray | None = None) -> dict[str, Any]:
    """Fits the SVM on the training pixels of ``split`` and scores it on its test pixels.

    ``rows``, ``cols`` and ``labels`` (class ids) are the labelled pixels ``split`` indexes;
    ``spectra`` the PixelSpectra gathered over them. Returns a JSON-ready dict: method, chosen C and
    gamma, pixel counts, seconds and the ``accuracy`` of core.metrics.accuracy_report. Given
    ``pool``, raw spectra (pixels, kept bands) of more pixels, the dict also holds the class ids the
    SVM gives them under ``pool_classes`` (core.cotraining uses them; not JSON-ready).
    """
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    slots = spectra.slots(rows, cols)
    labels = np.asarray(labels)
    parts = {}
    for name, part in (("train", split.train), ("val", split.val), ("test", split.test)):
        part = np.asarray(part)
        parts[name] = part[slots[part] >= 0]
    fit = parts["train"][_stratified(labels[parts["train"]], MAX_FIT, rng)]
    tune = parts["val"][_stratified(labels[parts["val"]], MAX_FIT, rng)]
    scaler = StandardScaler().fit(spectra.spectra[slots[fit]])

    def features(part):
        return scaler.transform(spectra.spectra[slots[part]])

    x_fit, y_fit = features(fit), labels[fit]
    bands = x_fit.shape[1]
    if len(tune) and len(np.unique(y_fit)) > 1:
        x_tune, y_tune = features(tune), labels[tune]
        # The best-scoring fit itself is kept (the first of equals), so the chosen SVM is not fitted twice.
        fitted = (SVC(C=c, gamma=g / bands).fit(x_fit, y_fit) for c in C_GRID for g in GAMMA_FACTORS)
        svm = max(fitted, key=lambda candidate: candidate.score(x_tune, y_tune))
    else:
        svm = SVC(C=100.0, gamma=1.0 / bands).fit(x_fit, y_fit)
    c, gamma = svm.C, svm.gamma
    predicted = svm.predict(features(parts["test"]))
    class_ids = np.unique(labels)
    extra = {} if pool is None else {"pool_classes": svm.predict(scaler.transform(pool)) if len(pool) else
                                     np.zeros(0, dtype=labels.dtype)}
    return {**extra, "method": METHOD, "C": c, "gamma": gamma, "n_train": len(fit), "n_train_available": len(split.train),
            "n_val": len(tune), "n_test": len(parts["test"]), "n_test_available": len(split.test),
            "seconds": time.perf_counter() - start,
            "accuracy": accuracy_report(labels[parts["test"]], predicted, class_ids, class_names)}


def verdict(network_accuracy: Mapping[str, Any], baseline: Mapping[str, Any]) -> str:
    """One sentence saying whether the network or the SVM baseline did better on the test pixels."""
    cnn, svm = network_accuracy["overall_accuracy"], baseline["accuracy"]["overall_accuracy"]
    sample = "" if baseline["n_test"] == baseline["n_test_available"] else \
        f" (the SVM scored on {baseline['n_test']:,} of the {baseline['n_test_available']:,} test pixels)"
    if abs(cnn - svm) < 0.005:
        return (f"The 3D CNN and the SVM baseline are as good as each other on these test pixels: "
                f"OA {100 * cnn:.2f}% and {100 * svm:.2f}%{sample}.")
    better, worse = ("3D CNN", "SVM baseline") if cnn > svm else ("SVM baseline", "3D CNN")
    return (f"The {better} is better than the {worse} on these test pixels: OA {100 * max(cnn, svm):.2f}% "
            f"against {100 * min(cnn, svm):.2f}%{sample}.")
