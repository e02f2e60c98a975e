"""Accuracy figures of the paper (OA, AA, kappa) and per-class precision, recall, F1 and support.

Only labelled pixels count: reference value 0 means unlabelled and is never scored. Classes are
reported by the user's own ids (and names), not by the network's internal indices.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .errors import InputError


def confusion_matrix(reference: ArrayLike, predicted: ArrayLike, class_ids: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Counts (classes x classes), rows = reference, columns = predicted, for ``class_ids`` in order.

    Predictions outside ``class_ids`` (0, invalid pixels) are counted in no column but keep their
    row, so they lower recall and overall accuracy as they should.
    """
    class_ids = np.asarray(class_ids)
    reference, predicted = np.ravel(reference), np.ravel(predicted)
    keep = np.isin(reference, class_ids)
    ref_pos = np.searchsorted(class_ids, reference[keep])
    pred = predicted[keep]
    known = np.isin(pred, class_ids)
    matrix = np.zeros((len(class_ids), len(class_ids)), dtype=np.int64)
    np.add.at(matrix, (ref_pos[known], np.searchsorted(class_ids, pred[known])), 1)
    row_totals = np.bincount(ref_pos, minlength=len(class_ids))
    return matrix, row_totals


def accuracy_report(reference: ArrayLike, predicted: ArrayLike, class_ids: Iterable[int],
                    class_names: Mapping[int, str] | None = None) -> dict[str, Any]:
    """A JSON-ready dict: OA, AA, kappa, per-class figures and the confusion matrix.

    ``class_ids`` must be sorted; ``class_names`` maps id -> name.
    """
    class_ids = np.asarray(sorted(int(c) for c in class_ids))
    matrix, support = confusion_matrix(reference, predicted, class_ids)
    total = int(support.sum())
    if total == 0:
        raise InputError("no labelled reference pixel to assess: the reference holds only 0 (unlabelled) here")
    correct = np.diag(matrix)
    predicted_totals = matrix.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = np.where(support > 0, correct / support, np.nan)
        precision = np.where(predicted_totals > 0, correct / predicted_totals, np.nan)
        # A class with no reference pixel has no recall, so no F1 either (not 0: it was never tested).
        f1 = np.where(support > 0, np.where(precision + recall > 0, 2 * precision * recall / (precision + recall),
                                            0.0), np.nan)
    oa = correct.sum() / total
    expected = (support * predicted_totals).sum() / total ** 2
    kappa = (oa - expected) / (1 - expected) if expected < 1 else 1.0
    names = class_names or {}
    per_class = [{
        "id": int(c), "name": names.get(int(c), f"class {int(c)}"),
        "precision": _num(precision[i]), "recall": _num(recall[i]), "f1": _num(f1[i]),
        "support": int(support[i]),
    } for i, c in enumerate(class_ids)]
    return {
        "overall_accuracy": float(oa),
        "average_accuracy": float(np.nanmean(recall)),
        "kappa": float(kappa),
        "n_pixels": total,
        "n_unclassified": int(total - matrix.sum()),
        "class_ids": [int(c) for c in class_ids],
        "per_class": per_class,
        "confusion_matrix": matrix.tolist(),
    }


def _num(value: float) -> float | None:
    return None if np.isnan(value) else float(value)
