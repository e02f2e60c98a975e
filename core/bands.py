"""Band selection as remote-sensing users write it, and the per-pixel validity mask.

Sensors ship bands that must go (water absorption, dead detectors): users name them in 1-based
ranges such as ``108-112,154-167,224``. Pixels with a nodata value or a non-finite value in any
kept band are invalid: they never enter the PCA fit, training or accuracy, and are mapped to 0.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np
from numpy.typing import ArrayLike

from .errors import InputError

_RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


class BandRangeError(InputError):
    """A band range text that cannot be read or does not fit the raster."""


def parse_band_ranges(text: str | None, band_count: int) -> np.ndarray:
    """The sorted 0-based band indices named by 1-based ``text`` (``"1-3, 7"``); empty text names none."""
    if text is None or not str(text).strip():
        return np.zeros(0, dtype=np.int64)
    picked: set[int] = set()
    for part in str(text).split(","):
        match = _RANGE.match(part)
        if not match:
            raise BandRangeError(
                f"cannot read '{part.strip()}' in band list '{text}': write 1-based bands and ranges "
                f"separated by commas, for example 108-112,154-167,224")
        first = int(match.group(1))
        last = int(match.group(2) or first)
        if first > last:
            raise BandRangeError(f"range '{part.strip()}' in band list '{text}' runs backwards: write {last}-{first}")
        if first < 1 or last > band_count:
            raise BandRangeError(
                f"range '{part.strip()}' in band list '{text}' is outside the raster's bands 1-{band_count}")
        picked.update(range(first - 1, last))
    return np.array(sorted(picked), dtype=np.int64)


def format_band_ranges(indices: Iterable[int]) -> str:
    """0-based indices written back as compact 1-based ranges, for reports."""
    indices = sorted(int(i) + 1 for i in indices)
    parts, start = [], None
    for i, band in enumerate(indices):
        if start is None:
            start = band
        if i + 1 == len(indices) or indices[i + 1] != band + 1:
            parts.append(str(start) if start == band else f"{start}-{band}")
            start = None
    return ",".join(parts)


def kept_bands(band_count: int, exclude_text: str | None = "") -> np.ndarray:
    """The 0-based indices of the bands left after excluding ``exclude_text``; never empty."""
    excluded = parse_band_ranges(exclude_text, band_count)
    kept = np.setdiff1d(np.arange(band_count), excluded)
    if kept.size == 0:
        raise BandRangeError(f"band list '{exclude_text}' excludes all {band_count} bands: keep at least one")
    return kept


def valid_mask(block: np.ndarray, nodata: float | None = None) -> np.ndarray:
    """True where every band of ``block`` (..., bands) is finite and differs from ``nodata``."""
    valid = np.ones(block.shape[:-1], dtype=bool)
    if np.issubdtype(block.dtype, np.floating):
        valid &= np.isfinite(block).all(axis=-1)
    if nodata is not None and _representable(nodata, block.dtype):
        valid &= ~(block == np.asarray(nodata, dtype=block.dtype)).any(axis=-1)
    return valid


def _representable(value, dtype):
    """Whether ``value`` can occur in an array of ``dtype`` (a nodata of 1e20 never occurs in int16)."""
    if not np.isfinite(value):
        return False
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return float(value).is_integer() and info.min <= value <= info.max
    return True


class BandCountError(InputError):
    """A raster whose band count differs from the one the model was trained on."""


def check_band_count(band_count: int, trained_on: int, source: str = "the raster") -> None:
    """Raises BandCountError unless a raster of ``band_count`` bands fits a model trained on
    ``trained_on`` bands; ``source`` names the raster."""
    if band_count != trained_on:
        raise BandCountError(
            f"{source} has {band_count} bands but the model was trained on a raster with {trained_on} bands: "
            f"classify a raster from the same sensor with the same band set, or train a new model on this raster")


class BandMatchError(InputError):
    """Bands the model needs that a raster does not have, by wavelength."""


def match_bands(model_wavelengths: ArrayLike, kept: Sequence[int] | np.ndarray,
                raster_wavelengths: ArrayLike) -> np.ndarray:
    """For each kept model band (0-based indices into ``model_wavelengths``, nm), the 0-based band of
    the raster whose wavelength is nearest, within half the model's typical band spacing (at least
    1 nm): the same sensor's product with a few bad bands removed, or another processing level.

    Raises BandMatchError naming every kept band without a match, or two kept bands that would read
    the same raster band.
    """
    model = np.asarray(model_wavelengths, dtype=np.float64)
    raster = np.asarray(raster_wavelengths, dtype=np.float64)
    spacing = np.median(np.diff(np.sort(model))) if len(model) > 1 else 2.0
    tolerance = max(1.0, 0.5 * spacing)
    nearest = np.abs(raster[None, :] - model[np.asarray(kept)][:, None]).argmin(axis=1)
    missing = [int(k) for k, j in zip(kept, nearest) if abs(raster[j] - model[k]) > tolerance]
    if missing:
        listed = ", ".join(f"band {k + 1} ({model[k]:.1f} nm)" for k in missing[:12])
        more = f" and {len(missing) - 12} more" if len(missing) > 12 else ""
        raise BandMatchError(
            f"the raster has no band within {tolerance:.1f} nm of the model's {listed}{more}: classify a raster "
            f"that holds these wavelengths, or train a model without them (exclude them when training)")
    if len(set(nearest.tolist())) < len(nearest):
        raise BandMatchError(f"the raster's bands are too coarse for the model's: two of the model's bands would "
                             f"read the same band (within {tolerance:.1f} nm); train a model on this raster")
    return nearest
