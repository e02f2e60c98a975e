"""Blocks: the unit in which scenes travel between the raster reader and the core.

A block is a window of raw pixels plus the halo around it that the scene provides (none past the
scene's edges). Prediction needs a halo of S // 2 pixels so that every pixel's patch is complete;
where the scene ends the core pads exactly as training did.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

#: (top, bottom, left, right) rows and columns of halo.
Halo = tuple[int, int, int, int]


@dataclass
class Block:
    row: int            # scene row of the block's first core pixel
    col: int            # scene column of the block's first core pixel
    data: np.ndarray    # (top + rows + bottom, left + cols + right, bands) raw values
    halo: Halo = (0, 0, 0, 0)  # (top, bottom, left, right) halo rows/cols included in data

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols) of the core region."""
        top, bottom, left, right = self.halo
        return self.data.shape[0] - top - bottom, self.data.shape[1] - left - right


def block_windows(height: int, width: int, block_rows: int, block_cols: int,
                  halo: int = 0) -> Iterator[tuple[int, int, int, int, Halo]]:
    """(row, col, rows, cols, (top, bottom, left, right)) windows tiling a scene, halos clipped to it."""
    for row in range(0, height, block_rows):
        rows = min(block_rows, height - row)
        for col in range(0, width, block_cols):
            cols = min(block_cols, width - col)
            yield row, col, rows, cols, (min(halo, row), min(halo, height - row - rows),
                                         min(halo, col), min(halo, width - col - cols))


def array_blocks(cube: np.ndarray, block_rows: int = 256, block_cols: int | None = None,
                 halo: int = 0) -> Iterator[Block]:
    """Blocks over an in-memory (rows, cols, bands) cube: the same iterator a raster reader yields."""
    height, width = cube.shape[:2]
    for row, col, rows, cols, (top, bottom, left, right) in block_windows(
            height, width, block_rows, block_cols or width, halo):
        data = cube[row - top:row + rows + bottom, col - left:col + cols + right]
        yield Block(row, col, data, (top, bottom, left, right))
