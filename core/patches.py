"""S x S x B patches centred on pixels of the reduced cube, gathered batch by batch.

Patches are never stored for the whole training set: each batch gathers its patches from the
cube by index, so memory is O(batch x S x S x B) whatever the number of labelled pixels. The cube
may be a numpy memmap. Outside the scene patches are padded with zeros (the paper) or by
reflection.
"""
from __future__ import annotations

import keras
import numpy as np
from numpy.typing import ArrayLike

from .errors import InputError
from .settings import PADDINGS


def _reflect(index: np.ndarray, size: int) -> np.ndarray:
    """numpy 'reflect' padding index arithmetic (edge not repeated), valid for any offset."""
    if size == 1:
        return np.zeros_like(index)
    period = 2 * (size - 1)
    index = np.abs(index) % period
    return np.where(index >= size, period - index, index)


def extract_patches(cube: np.ndarray, rows: ArrayLike, cols: ArrayLike, window: int,
                    padding: str = "zero") -> np.ndarray:
    """Patches (n, S, S, B) float32 of ``cube`` (H, W, B) centred on pixels (rows[i], cols[i])."""
    half = window // 2
    return extract_windows(cube, np.asarray(rows) - half, np.asarray(cols) - half, window, padding)


def extract_windows(cube: np.ndarray, tops: ArrayLike, lefts: ArrayLike, size: int,
                    padding: str = "zero") -> np.ndarray:
    """Windows (n, size, size, B) float32 of ``cube`` (H, W, B) whose top-left pixels are (tops[i],
    lefts[i]), which may lie outside the cube: what lies outside is padded."""
    if padding not in PADDINGS:
        raise InputError(f"padding '{padding}' is not one of {', '.join(PADDINGS)}")
    height, width = cube.shape[:2]
    offsets = np.arange(size)
    rr = np.asarray(tops)[:, None] + offsets  # (n, size)
    cc = np.asarray(lefts)[:, None] + offsets
    if padding == "reflect":
        return np.asarray(cube[_reflect(rr, height)[:, :, None], _reflect(cc, width)[:, None, :]],
                          dtype=np.float32)
    inside = ((rr >= 0) & (rr < height))[:, :, None] & ((cc >= 0) & (cc < width))[:, None, :]
    windows = np.asarray(cube[np.clip(rr, 0, height - 1)[:, :, None], np.clip(cc, 0, width - 1)[:, None, :]],
                         dtype=np.float32)
    windows *= inside[..., None]
    return windows


def add_spectral_noise(patches: np.ndarray, rng: np.random.Generator, noise: float) -> np.ndarray:
    """``patches`` with N(0, ``noise``) added to every value: each training patch is seen with fresh
    noise every epoch, so the network cannot lean on the exact values of the weak components, which
    on other ground (the disjoint split) differ most from the training fields."""
    return patches + rng.normal(0.0, noise, patches.shape).astype(np.float32)


class PixelBatches(keras.utils.PyDataset):
    """The pixels (``rows``, ``cols``, with their ``targets`` or None) of ``cube`` that a dataset
    serves ``batch_size`` at a time, whichever way it lays out a batch (patches here, tiles in
    tile_training); with the generators of its order and, for ``noise``, of its noise, seeded by
    ``seed``."""

    def __init__(self, cube: np.ndarray, rows: ArrayLike, cols: ArrayLike, targets: ArrayLike | None, window: int,
                 batch_size: int, padding: str, shuffle: bool, seed: int, noise: float):
        super().__init__(workers=1, use_multiprocessing=False)
        self.cube, self.window, self.padding = cube, window, padding
        self.rows, self.cols = np.asarray(rows), np.asarray(cols)
        self.targets = None if targets is None else np.asarray(targets)
        self.batch_size, self.shuffle, self.noise = int(batch_size), shuffle, noise
        self._rng = np.random.default_rng(seed)
        self._noise_rng = np.random.default_rng([seed, 1])

    @property
    def num_batches(self) -> int:
        return -(-len(self.rows) // self.batch_size)

    def __len__(self) -> int:
        return self.num_batches

    def noise_state(self) -> dict:
        """Where the noise generator stands (JSON-ready), for a checkpoint (core.checkpoints)."""
        return dict(self._noise_rng.bit_generator.state)

    def set_noise_state(self, state: dict) -> None:
        self._noise_rng.bit_generator.state = state


class PatchDataset(PixelBatches):
    """Batches of (patches (n, S, S, B, 1), class indices) for Keras ``fit``/``predict``.

    With ``shuffle`` the order is redrawn each epoch from a generator seeded by ``seed``, so two runs
    with the same seed see the same batches. ``noise`` (a standard deviation, 0: none) is added to
    each patch anew every time it is drawn (see ``add_spectral_noise``), from a generator of its own
    so the order stays the same.
    """

    def __init__(self, cube: np.ndarray, rows: ArrayLike, cols: ArrayLike, targets: ArrayLike | None = None,
                 window: int = 11, batch_size: int = 256, padding: str = "zero", shuffle: bool = False,
                 seed: int = 0, noise: float = 0.0):
        super().__init__(cube, rows, cols, targets, window, batch_size, padding, shuffle, seed, noise)
        self._order = np.arange(len(self.rows))
        if shuffle:
            self._rng.shuffle(self._order)

    def __getitem__(self, index: int) -> tuple[np.ndarray, ...]:
        pick = self._order[index * self.batch_size:(index + 1) * self.batch_size]
        patches = extract_patches(self.cube, self.rows[pick], self.cols[pick], self.window, self.padding)
        if self.noise:
            patches = add_spectral_noise(patches, self._noise_rng, self.noise)
        if self.targets is None:
            return (patches[..., None],)
        return patches[..., None], self.targets[pick]

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self._rng.shuffle(self._order)
