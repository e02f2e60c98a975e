"""A scene to train on, read block by block, and its reduction into the cube the network learns from.

The raster is never held whole: each step that needs the raw pixels (band statistics, the PCA
fit, the reduction) reads it once more, block by block, and the reduced cube can live in a
memory-mapped file when it is too large for memory.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from .blocks import Block
from .classes import ClassTable
from .mosaic import Mosaic
from .progress import Reporter
from .reduction import SpectralReducer


@dataclass(frozen=True)
class Scene:
    """A scene to train on, as training reads it: block by block, one pass for each step that needs
    the raw pixels (band statistics, PCA, reduction), so no step holds the raster whole."""
    blocks: Callable[[], Iterator[Block]]  # a fresh iterator of raw blocks (no halo needed) at each call
    height: int
    width: int
    band_count: int
    labels: ArrayLike  # (height, width) user class ids, 0 = unlabelled
    nodata: float | None = None
    classes: ClassTable = field(default_factory=ClassTable)  # the names and colours the user gave the ids
    # Several rasters on one canvas: trained with zero padding; the split treats them as one scene.
    mosaic: Mosaic | None = None
    # (height, width) the field (polygon, line) each labelled pixel belongs to, 0 = none: the grouped
    # split holds out whole fields (core.splits); None where the ground truth does not come in fields.
    groups: ArrayLike | None = None

    def read(self, reporter: Reporter) -> Iterator[Block]:
        """One pass over the blocks, for a phase reported to ``reporter``: Cancel is heard before each
        block, and after each the share of the scene's pixels done is reported, which the position of
        a block in row-major order tells without reading the scene once more to count them."""
        for block in self.blocks():
            reporter.check_cancel()
            yield block
            rows, cols = block.shape
            reporter.progress((block.row * self.width + (block.col + cols) * rows) / (self.height * self.width))


def reduce_scene(reducer: SpectralReducer, blocks: Iterator[Block], height: int, width: int,
                 spill_path: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The (H, W, B) float32 cube of scaled PCA scores, zero at invalid pixels, and the validity mask.

    With ``spill_path`` the cube is a memory-mapped file there, for scenes whose cube does not fit
    in memory.
    """
    shape = (height, width, reducer.n_components)
    cube: np.ndarray
    if spill_path:
        cube = np.lib.format.open_memmap(spill_path, mode="w+", dtype=np.float32, shape=shape)
    else:  # zeros: pixels no block covers (the blank rows of a mosaic) are blank
        cube = np.zeros(shape, dtype=np.float32)
    valid = np.zeros((height, width), dtype=bool)
    for block in blocks:
        rows, cols = block.shape
        scores, ok = reducer.transform_block(block.data)
        cube[block.row:block.row + rows, block.col:block.col + cols] = scores
        valid[block.row:block.row + rows, block.col:block.col + cols] = ok
    return cube, valid
