"""The spectral reduction: kept bands -> incremental PCA -> scaled components.

IncrementalPCA is fitted by ``partial_fit`` over a stream of pixel blocks, so the scene never has
to fit in memory. The components are then scaled: the paper's code skips this, but unscaled scores
(thousands) make the JAX and PyTorch backends collapse to 24-36% on Indian Pines. ``scale``
"each" standardises every component (unit variance over the fit pixels): on Indian Pines' random
split it lifts overall accuracy from 97.5% to 99.3% with TensorFlow. "first" divides all by the
first component's standard deviation, so they keep their relative variance: the weak last
components, mostly noise and field-specific detail, are not blown up to the size of the first; on
the disjoint split (test ground away from training ground) this alone took Indian Pines (seed 0)
from 39% to 44% (tests/benchmarks/bench_disjoint.py).

``standardise_bands`` fits the PCA on bands scaled to zero mean and unit deviation over the fit
pixels (a PCA of the correlation matrix, not the covariance): without it the bright bands, whose
variance is mostly brightness, decide the components, and the weak bands, where crops differ, count
for little. On Indian Pines' disjoint split it raised an SVM on the 20 components from 58.6% to 61.1%
OA and the network's average accuracy from 52.0% to 56.0% (OA 54.6% -> 54.7%, three seeds: the rare
classes gain). It takes one more pass over the blocks (band means and deviations,
``fit_band_statistics``) before the PCA's. The scaling is folded into ``mean_`` and ``components_``,
so a reducer applies and is stored exactly as without it, and older model files load unchanged.

Everything learned is kept as plain arrays so the model file stores it without pickle.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

import numpy as np
from numpy.typing import ArrayLike
from sklearn.decomposition import IncrementalPCA

from .bands import valid_mask
from .errors import InputError
from .settings import COMPONENT_SCALES


class ComponentCountError(InputError):
    """More components asked for than the kept bands or fit pixels allow."""


NO_VALID_PIXEL = ("no valid pixel to fit the PCA: every pixel is nodata or non-finite in a kept band; "
                  "exclude the bad bands or check the nodata value")


class SpectralReducer:
    """Maps raw pixels of all the raster's bands to ``n_components`` scaled PCA scores.

    ``band_indices`` are the 0-based bands kept, ``nodata`` the raster's nodata value (or None).
    Fitted attributes end with an underscore, as in scikit-learn.
    """

    def __init__(self, band_indices: ArrayLike, nodata: float | None = None, n_components: int = 20,
                 chunk_pixels: int = 20000, scale: str = "each", standardise_bands: bool = False) -> None:
        if scale not in COMPONENT_SCALES:
            raise InputError(f"component scale '{scale}' is not one of {', '.join(COMPONENT_SCALES)}")
        self.band_indices = np.asarray(band_indices, dtype=np.int64)
        self.nodata = nodata
        self.n_components = int(n_components)
        self.chunk_pixels = int(chunk_pixels)
        self.scale = scale
        self.standardise_bands = bool(standardise_bands)

    # -- fitting ---------------------------------------------------------------------------
    def fit_band_statistics(self, blocks: Iterable[np.ndarray], sample_step: int = 1) -> "SpectralReducer":
        """The kept bands' means and deviations over every ``sample_step``-th valid pixel of the raw
        ``blocks``, merged block by block (Chan et al.'s pairwise update, stable for any scene size):
        what ``fit_blocks`` standardises the bands by when ``standardise_bands`` is set."""
        count, mean, squares = 0, 0.0, 0.0
        for pixels in self._sampled_pixels(blocks, sample_step):
            if not len(pixels):
                continue
            block_mean = pixels.mean(axis=0)
            delta = block_mean - mean
            total = count + len(pixels)
            squares = squares + ((pixels - block_mean) ** 2).sum(axis=0) + delta ** 2 * count * len(pixels) / total
            mean, count = mean + delta * len(pixels) / total, total
        if not count:
            raise ComponentCountError(NO_VALID_PIXEL)
        deviation = np.sqrt(squares / count)
        self.band_mean_ = mean
        # A constant band carries nothing: left unscaled, it is 0 once centred.
        self.band_scale_ = np.where(deviation > 1e-12 * max(deviation.max(), 1e-300), deviation, 1.0)
        return self

    def fit_blocks(self, blocks: Iterable[np.ndarray], sample_step: int = 1) -> "SpectralReducer":
        """Fits on every ``sample_step``-th valid pixel of each raw block (rows, cols, all bands).

        ``blocks`` is any iterable; pixels are buffered into chunks of ``chunk_pixels`` so each
        ``partial_fit`` sees enough samples, and memory stays bounded by the chunk and the block.
        With ``standardise_bands``, ``fit_band_statistics`` must have seen the same blocks first.
        """
        n_kept = len(self.band_indices)
        if not 1 <= self.n_components <= n_kept:
            raise ComponentCountError(
                f"{self.n_components} components asked for, but {n_kept} bands are kept: "
                f"choose between 1 and {n_kept}")
        if self.standardise_bands and not hasattr(self, "band_scale_"):
            raise ValueError("standardise_bands: call fit_band_statistics on the blocks before fit_blocks")
        self._ipca = IncrementalPCA(n_components=self.n_components)
        self.n_fit_pixels_ = 0
        buffered, n_buffered = [], 0
        for pixels in self._sampled_pixels(blocks, sample_step):
            if self.standardise_bands:
                pixels = (pixels - self.band_mean_) / self.band_scale_
            buffered.append(pixels)
            n_buffered += len(pixels)
            if n_buffered >= self.chunk_pixels:
                self._partial_fit(np.concatenate(buffered))
                buffered, n_buffered = [], 0
        if n_buffered:
            rest: np.ndarray | None
            rest = np.concatenate(buffered)
            if self.n_fit_pixels_ and len(rest) < self.n_components:
                rest = None  # too few to update on their own; the fit already saw chunk_pixels pixels
            if rest is not None:
                self._partial_fit(rest)
        self._finish()
        return self

    def _sampled_pixels(self, blocks: Iterable[np.ndarray], sample_step: int) -> Iterator[np.ndarray]:
        """Every ``sample_step``-th valid pixel of each raw block, float64, one array per block."""
        for block in blocks:
            yield self.valid_pixels(block)[::sample_step].astype(np.float64)

    def _partial_fit(self, pixels):
        if len(pixels) < self.n_components:
            raise ComponentCountError(
                f"only {len(pixels)} valid pixels to fit {self.n_components} components: "
                f"lower the number of components or check the nodata value")
        self._ipca.partial_fit(pixels)
        self.n_fit_pixels_ += len(pixels)

    def _finish(self):
        if self.n_fit_pixels_ == 0:
            raise ComponentCountError(NO_VALID_PIXEL)
        self.mean_ = self._ipca.mean_.astype(np.float64)
        self.components_ = self._ipca.components_.astype(np.float64)
        if self.standardise_bands:
            # ((x - m) / s - mean) . c  ==  (x - (m + s mean)) . (c / s): the raw pixels' terms.
            self.mean_ = self.band_mean_ + self.band_scale_ * self.mean_
            self.components_ = self.components_ / self.band_scale_
        self.explained_variance_ = self._ipca.explained_variance_.astype(np.float64)
        self.explained_variance_ratio_ = self._ipca.explained_variance_ratio_.astype(np.float64)
        # Scores of the fit pixels have zero mean and variance explained_variance_ (the IPCA
        # covariance is unbiased): their standard deviation standardises them exactly.
        std = np.sqrt(np.maximum(self.explained_variance_, 0.0))
        if self.scale == "first":
            std = np.full_like(std, std.max())
        self.score_scale_ = np.where(std > 1e-12 * max(std.max(), 1e-300), std, 1.0)
        del self._ipca

    # -- applying --------------------------------------------------------------------------
    def valid_pixels(self, block: np.ndarray) -> np.ndarray:
        """The kept-band spectra (n, kept) of the valid pixels of a raw block."""
        kept = self._kept(block)
        return kept[valid_mask(kept, self.nodata)]

    def _kept(self, block, axis=-1):
        """The kept bands of ``block``, whose bands lie along ``axis``."""
        if block.shape[axis] <= int(self.band_indices.max(initial=-1)):
            raise ValueError(f"block has {block.shape[axis]} bands, the band selection needs "
                             f"{int(self.band_indices.max()) + 1}")
        return np.take(block, self.band_indices, axis=axis)

    def transform_block(self, block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Scores (rows, cols, n_components) float32 of a raw block, 0 at invalid pixels, and the mask.

        Rows are reduced in chunks of about ``chunk_pixels`` pixels, so memory does not scale with
        the block. Each chunk is projected with its bands as rows (kept bands, pixels): GDAL reads a
        block band by band, so the kept bands are gathered as whole rows rather than one value per
        pixel, and a chunk whose pixels are all valid is projected without a second gather. The
        arithmetic is float32 (centred values, then one matrix product; the scores move by at most
        7e-5 from float64's): on bench_ceiling.py's 1000 x 1000 x 200 int16 scene its 16 blocks reduced
        in 0.31 s against 1.50 s in float64 with pixels as rows (2-core Intel Xeon), time classify's
        network had to share its two cores with.
        """
        height, width = block.shape[:2]
        out = np.zeros((height, width, self.n_components), dtype=np.float32)
        valid = np.zeros((height, width), dtype=bool)
        mean = self.mean_.astype(np.float32)[:, None]
        projection = (self.components_ / self.score_scale_[:, None]).astype(np.float32)
        step = max(1, self.chunk_pixels // max(width, 1))
        for row in range(0, height, step):
            chunk = block[row:row + step]
            bands = self._kept(np.moveaxis(chunk, -1, 0).reshape(chunk.shape[-1], -1), axis=0)
            ok = valid_mask(bands.T, self.nodata)
            scores = out[row:row + step].reshape(-1, self.n_components)
            if ok.all():
                scores[:] = (projection @ np.subtract(bands, mean, dtype=np.float32)).T
            elif ok.any():
                scores[ok] = (projection @ np.subtract(bands[:, ok], mean, dtype=np.float32)).T
            valid[row:row + step] = ok.reshape(chunk.shape[:2])
        return out, valid

    # -- storage ---------------------------------------------------------------------------
    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays (no objects) that rebuild this reducer with ``from_arrays``."""
        return {
            "band_indices": self.band_indices,
            "nodata": np.array([np.nan if self.nodata is None else self.nodata], dtype=np.float64),
            "pca_mean": self.mean_,
            "pca_components": self.components_,
            "pca_explained_variance": self.explained_variance_,
            "pca_explained_variance_ratio": self.explained_variance_ratio_,
            "score_scale": self.score_scale_,
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> "SpectralReducer":
        nodata = float(arrays["nodata"][0])
        components = np.asarray(arrays["pca_components"], dtype=np.float64)
        reducer = cls(arrays["band_indices"], None if np.isnan(nodata) else nodata, components.shape[0])
        reducer.mean_ = np.asarray(arrays["pca_mean"], dtype=np.float64)
        reducer.components_ = components
        reducer.explained_variance_ = np.asarray(arrays["pca_explained_variance"], dtype=np.float64)
        reducer.explained_variance_ratio_ = np.asarray(arrays["pca_explained_variance_ratio"], dtype=np.float64)
        reducer.score_scale_ = np.asarray(arrays["score_scale"], dtype=np.float64)
        return reducer
