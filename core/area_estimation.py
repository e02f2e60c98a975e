"""Accuracy and area to good practice: the stratified estimators of Olofsson et al. (2014), "Good
practices for estimating area and assessing accuracy of land change", Remote Sensing of Environment
148, 42-57.

Counting a map's pixels per class gives biased areas (every error moves area from one class to
another), and plain accuracy over a reference sample weights each class by how many reference
pixels it happened to get. With the map's classes as strata, each stratum's sample is weighted by
the stratum's share of the map (W_i): this gives the error matrix in area proportions (p_ij),
overall, user's and producer's accuracies, and error-adjusted areas, each with a 95% confidence
interval (1.96 standard errors, the paper's equations 2-10). The estimators assume the reference
pixels are a random sample within each map class (stratified or simple random sampling).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from .errors import InputError

METHOD = "stratified estimators of Olofsson et al. (2014), strata = map classes"
Z_95 = 1.96


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan)


def _half_width(variance: ArrayLike) -> np.ndarray:
    return Z_95 * np.sqrt(variance)


def good_practice_estimates(counts: ArrayLike, mapped_pixels: ArrayLike, pixel_area: float = 1.0,
                            unit: str = "pixels", class_ids: Sequence[int] | None = None,
                            names: dict[int, str] | None = None) -> dict:
    """Olofsson et al.'s estimates from a sample error matrix.

    ``counts`` (k, k): reference pixels by map class (rows, the strata) and reference class
    (columns), over the same k classes; ``mapped_pixels`` (k): pixels the whole map gives each
    class; ``pixel_area``: the area of one pixel in ``unit``. Every class the map holds must have
    at least two reference pixels (a stratum's variance needs n - 1 > 0). Returns a JSON-ready dict.
    """
    counts = np.asarray(counts, dtype=np.float64)
    mapped = np.asarray(mapped_pixels, dtype=np.float64)
    k = len(mapped)
    class_ids = list(range(1, k + 1)) if class_ids is None else [int(c) for c in class_ids]
    names = names or {}
    n_i = counts.sum(axis=1)
    _check_strata(mapped, n_i, class_ids, names)
    weights = mapped / mapped.sum()
    share = counts / np.where(n_i > 0, n_i, 1)[:, None]          # n_ij / n_i.
    p = weights[:, None] * share                                  # p_ij (eq. 4)
    users = _ratio(np.diag(counts), n_i)                          # U_i (eq. 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        stratum_term = np.where(n_i > 1, share * (1 - share) / np.where(n_i > 1, n_i - 1, 1)[:, None], 0.0)
    users_var = np.diag(stratum_term)                             # eq. 5
    overall = float(np.trace(p))                                  # eq. 1
    overall_var = float(np.sum(weights ** 2 * users_var))         # eq. 5
    reference_share = p.sum(axis=0)                               # p_.j (eq. 9)
    producers = _ratio(np.diag(p), reference_share)               # P_j (eq. 3)
    producers_var = _producers_variance(counts, mapped, n_i, producers, users_var, stratum_term)
    share_var = (weights[:, None] ** 2 * stratum_term).sum(axis=0)  # eq. 10
    total_area = mapped.sum() * pixel_area
    per_class = [{
        "id": class_ids[j], "name": names.get(class_ids[j], f"class {class_ids[j]}"),
        "mapped_pixels": int(mapped[j]), "reference_pixels": int(n_i[j]),
        "mapped_area": float(mapped[j] * pixel_area),
        "area": float(reference_share[j] * total_area), "area_ci95": float(_half_width(share_var[j]) * total_area),
        "area_proportion": float(reference_share[j]),
        "users_accuracy": _number(users[j]), "users_ci95": _number(_half_width(users_var[j])),
        "producers_accuracy": _number(producers[j]), "producers_ci95": _number(_half_width(producers_var[j])),
    } for j in range(k)]
    return {"method": METHOD, "unit": unit, "pixel_area": float(pixel_area), "total_area": float(total_area),
            "overall_accuracy": overall, "overall_ci95": float(_half_width(overall_var)),
            "per_class": per_class, "area_proportions": p.tolist(), "class_ids": class_ids}


def _check_strata(mapped, n_i, class_ids, names):
    """Raises InputError where a class the map holds has fewer than the two reference pixels its
    stratum's variance needs."""
    short = [class_ids[i] for i in range(len(mapped)) if mapped[i] > 0 and n_i[i] < 2]
    if short:
        raise InputError(
            "good-practice estimates need at least two reference pixels in every class the map holds; "
            f"class {', '.join(names.get(c, str(c)) for c in short)} has fewer: add reference pixels there")


def _producers_variance(counts, mapped, n_i, producers, users_var, stratum_term):
    """The producer's accuracies' variances (eq. 7), over the estimated number of pixels of each
    reference class (NaN where none is estimated)."""
    k = len(mapped)
    estimated = (mapped / np.where(n_i > 0, n_i, 1)) @ counts
    variance = np.empty(k)
    for j in range(k):
        others = sum(mapped[i] ** 2 * stratum_term[i, j] for i in range(k) if i != j)
        variance[j] = (mapped[j] ** 2 * (1 - producers[j]) ** 2 * users_var[j]
                       + producers[j] ** 2 * others) / estimated[j] ** 2 if estimated[j] > 0 else np.nan
    return variance


def _number(value):
    return None if not np.isfinite(value) else float(value)
