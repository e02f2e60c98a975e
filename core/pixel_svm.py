"""The RBF SVM a model file carries for fusion, with class probabilities, as plain arrays that can run
no code.

Why the SVM in the fusion: once the map's classes are weighted against their training shares
(core.class_balance), the geometric mean of the network's, the forest's and the SVM's class
probabilities beat the network and forest alone on the held-out ground of every case of
bench_new_ground (the same networks, forests, radii and test pixels, smoothed and weighted; OA / AA %,
tests/benchmarks/results/issue29/fusion_svm_weighted_replay.jsonl): Potsdam's test tiles 74.0 / 57.1
against 73.6 / 54.0, Indian Pines' disjoint split 61.6 / 63.4 against 60.4 / 61.7 (seeds 0-5), its
whole fields 59.4 / 59.7 against 59.4 / 58.5, Salinas-A 99.6 / 99.7 against 99.5 / 99.5.

An SVM gives decision values, not probabilities: each class's one-against-the-rest score (the votes
of its one-against-one machines plus their bounded confidence, as scikit-learn's SVC sums them) is
turned into a probability by Platt's sigmoid, fitted on scores of training pixels the machine did not
see (5 folds), and the K probabilities are normalised. A model file may come from anyone, so the
machine travels as arrays (standardisation, support vectors, the one-against-one coefficients as one
matrix, intercepts, sigmoids), checked on loading, and is evaluated here in numpy: the kernel of a
chunk of pixels against every support vector is one matrix product, and so are the pairs' decisions.
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

#: The arrays of an SVM in a model file (prefixed "svm_").
ARRAYS = ("mean", "scale", "support_vectors", "coefficients", "intercepts", "sigmoids", "gamma", "columns")
#: Folds whose held-out scores Platt's sigmoids are fitted on (scikit-learn's CalibratedClassifierCV's default).
FOLDS = 5
#: Pixels whose kernel rows are computed at once: 4,096 x 3,000 support vectors is 49 MB of float32.
CHUNK = 4096


class SVMProblem(ValueError):
    """An array of a stored SVM that cannot be right: its name and what is wrong."""


def pairs_of(n_classes: int) -> int:
    """How many one-against-one machines ``n_classes`` classes make."""
    return n_classes * (n_classes - 1) // 2


@dataclass
class PixelSVM:
    """An RBF SVM over raw spectra (the model's kept bands) standardised by ``mean`` and ``scale``.

    ``coefficients`` (support vectors, pairs) hold each support vector's dual coefficient in the
    machine of each pair of its classes (0 in the others), pairs (i, j), i < j, in that order; a
    positive decision votes for i. ``sigmoids`` (classes, 2) are each class's Platt (a, b):
    p = 1 / (1 + exp(a * score + b)). ``columns`` are the SVM's classes as columns of the model's
    ``n_classes`` (not stored: the model's class table gives it).
    """
    mean: np.ndarray
    scale: np.ndarray
    support_vectors: np.ndarray
    coefficients: np.ndarray
    intercepts: np.ndarray
    sigmoids: np.ndarray
    gamma: np.ndarray
    columns: np.ndarray
    n_classes: int

    @classmethod
    def from_fitted(cls, svm: Any, scaler: Any, class_ids: ArrayLike) -> "PixelSVM":
        """The arrays of a fitted scikit-learn SVC (RBF, on spectra standardised by the fitted
        StandardScaler ``scaler``) whose classes are among ``class_ids``, the model's class order;
        each class's sigmoid is 1 / (1 + exp(-score)) until ``calibrated`` fits them."""
        k, class_ids = len(svm.classes_), np.asarray(class_ids)
        dual, intercepts = np.asarray(svm.dual_coef_, dtype=np.float64), np.asarray(svm.intercept_, dtype=np.float64)
        if k == 2:
            # scikit-learn turns a binary machine's signs round so that a positive decision means its second
            # class; libsvm's own (kept here for any number of classes) means the first.
            dual, intercepts = -dual, -intercepts
        starts = np.concatenate([[0], np.cumsum(svm.n_support_)])
        coefficients = np.zeros((len(svm.support_vectors_), pairs_of(k)), dtype=np.float32)
        pair = 0
        for i in range(k):
            for j in range(i + 1, k):
                coefficients[starts[i]:starts[i + 1], pair] = dual[j - 1, starts[i]:starts[i + 1]]
                coefficients[starts[j]:starts[j + 1], pair] = dual[i, starts[j]:starts[j + 1]]
                pair += 1
        return cls(mean=np.asarray(scaler.mean_, dtype=np.float32), scale=np.asarray(scaler.scale_, dtype=np.float32),
                   support_vectors=np.asarray(svm.support_vectors_, dtype=np.float32), coefficients=coefficients,
                   intercepts=intercepts.astype(np.float32),
                   sigmoids=np.tile(np.array([-1, 0], dtype=np.float32), (k, 1)),
                   gamma=np.array(svm._gamma, dtype=np.float64),
                   columns=np.searchsorted(class_ids, svm.classes_).astype(np.int64), n_classes=len(class_ids))

    @property
    def n_support_vectors(self) -> int:
        return len(self.support_vectors)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in ARRAYS}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], n_features: int, n_classes: int) -> "PixelSVM":
        """The SVM of stored ``arrays``, checked for spectra of ``n_features`` bands and a model of
        ``n_classes`` classes; raises SVMProblem for arrays that do not make such a machine."""
        svm = cls(**{name: np.asarray(arrays[name]) for name in ARRAYS}, n_classes=n_classes)
        svm.check(n_features, n_classes)
        return svm

    def check(self, n_features: int, n_classes: int) -> None:
        """Raises SVMProblem unless the arrays fit one another, ``n_features`` bands and ``n_classes``
        classes, and hold finite numbers (positive scales and gamma)."""
        columns = self.columns
        if columns.ndim != 1 or not 2 <= len(columns) <= n_classes or columns.dtype.kind not in "iu" or \
                columns[0] < 0 or columns[-1] >= n_classes or (np.diff(columns) <= 0).any():
            raise SVMProblem(f"svm_columns {columns.tolist()[:5]}... must be 2 to {n_classes} increasing class columns")
        n, k = len(self.support_vectors), len(columns)
        shapes = {"mean": (n_features,), "scale": (n_features,), "support_vectors": (n, n_features),
                  "coefficients": (n, pairs_of(k)), "intercepts": (pairs_of(k),), "sigmoids": (k, 2), "gamma": ()}
        for name, shape in shapes.items():
            array = getattr(self, name)
            if array.shape != shape or array.dtype.kind != "f" or not np.isfinite(array).all():
                raise SVMProblem(f"svm_{name} must hold finite numbers of shape {shape}")
        if (self.scale <= 0).any() or self.gamma <= 0:
            raise SVMProblem("svm_scale and svm_gamma must be positive")

    def scores(self, spectra: np.ndarray) -> np.ndarray:
        """(pixels, the SVM's classes) float32: each class's one-against-the-rest score, its votes plus
        the sum of its machines' decisions squeezed into (-1/3, 1/3) (ties go to the surer class); of
        two classes, the one machine's decision for the first and its negative for the second."""
        k = len(self.columns)
        first, second = np.triu_indices(k, 1)
        to_first, to_second = np.eye(k, dtype=np.float32)[first], np.eye(k, dtype=np.float32)[second]
        vectors = self.support_vectors
        vector_norms = (vectors * vectors).sum(axis=1)
        out = np.empty((len(spectra), k), dtype=np.float32)
        for start in range(0, len(spectra), CHUNK):
            x = (np.asarray(spectra[start:start + CHUNK], dtype=np.float32) - self.mean) / self.scale
            distances = (x * x).sum(axis=1)[:, None] + vector_norms - 2 * (x @ vectors.T)
            kernel = np.exp(np.float32(-self.gamma) * np.maximum(distances, 0))
            decisions = kernel @ self.coefficients + self.intercepts
            confidence = decisions @ to_first - decisions @ to_second
            if k == 2:  # one machine: its decision is the score, as scikit-learn calibrates a binary SVC
                out[start:start + CHUNK] = confidence
                continue
            votes = (decisions >= 0) @ to_first + (decisions < 0) @ to_second
            out[start:start + CHUNK] = votes + confidence / (3 * (np.abs(confidence) + 1))
        return out

    def probabilities(self, spectra: np.ndarray) -> np.ndarray:
        """(pixels, the model's classes) float32: each class's Platt probability of its score, normalised
        to sum to 1 (uniform where every one is 0); a model class the SVM never saw gets 0."""
        z = self.scores(spectra) * self.sigmoids[:, 0] + self.sigmoids[:, 1]
        p = 1 / (1 + np.exp(np.minimum(z, 80)))  # exp of float32 overflows past 88
        total = p.sum(axis=1, keepdims=True)
        p = np.where(total > 0, p / np.where(total > 0, total, 1), 1 / p.shape[1])
        out = np.zeros((len(spectra), self.n_classes), dtype=np.float32)
        out[:, self.columns] = p
        return out


def calibrated(svm: Any, scaler: Any, spectra: np.ndarray, labels: np.ndarray, class_ids: ArrayLike,
               seed: int = 0) -> PixelSVM:
    """The fitted RBF ``svm`` (fitted on the raw ``spectra`` standardised by ``scaler``, of class ids
    ``labels``) as a PixelSVM whose sigmoids are fitted on held-out scores: each pixel scored by the
    machine refitted, with the same C and gamma, without the fold it falls in (FOLDS stratified folds).
    A class of one pixel is never held out, or a refit would not know it; its pixel keeps the whole
    machine's score, as does every pixel where no class has two."""
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold

    labels = np.asarray(labels)
    classes, counts = np.unique(labels, return_counts=True)
    single = np.isin(labels, classes[counts < 2])
    whole = PixelSVM.from_fitted(svm, scaler, class_ids)
    scores = whole.scores(spectra)
    rest = np.flatnonzero(~single)
    folds = min(FOLDS, int(counts.max()))
    if folds >= 2:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # a class of fewer pixels than folds: some folds lack it
            parts = list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(rest, labels[rest]))
        for train, held in parts:
            fitted = np.concatenate([rest[train], np.flatnonzero(single)])
            refit = clone(svm).fit(scaler.transform(spectra[fitted]), labels[fitted])
            scores[rest[held]] = PixelSVM.from_fitted(refit, scaler, class_ids).scores(spectra[rest[held]])
    whole.sigmoids = np.array([platt_sigmoid(scores[:, k], labels == c) for k, c in enumerate(svm.classes_)],
                              dtype=np.float32)
    return whole


def platt_sigmoid(scores: np.ndarray, positive: np.ndarray) -> tuple[float, float]:
    """(a, b) of Platt's sigmoid 1 / (1 + exp(a * score + b)) fitted to whether each pixel is of the
    class (``positive``), with Platt's targets (N+ + 1) / (N+ + 2) and 1 / (N- + 2) rather than 1 and 0,
    so that a class whose scores part it perfectly from the rest still gets a finite slope."""
    from scipy.optimize import minimize
    from scipy.special import expit

    scores = np.asarray(scores, dtype=np.float64)
    n_positive = int(positive.sum())
    n_negative = len(positive) - n_positive
    targets = np.where(positive, (n_positive + 1) / (n_positive + 2), 1 / (n_negative + 2))

    def loss(ab):
        z = ab[0] * scores + ab[1]
        residual = targets - expit(-z)  # d loss / dz = 1 - p - (1 - t) = t - p
        return (np.logaddexp(0, z) - (1 - targets) * z).sum(), np.array([(residual * scores).sum(), residual.sum()])

    start = np.array([0.0, np.log((n_negative + 1) / (n_positive + 1))])
    a, b = minimize(loss, start, jac=True, method="L-BFGS-B").x
    return float(a), float(b)
