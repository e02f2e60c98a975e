"""Several rasters of one sensor trained as one scene: stacked one above the other on a canvas.

A model trained on several scenes (flight lines, dates, tiles) generalises better than one trained
on a single scene, and its PCA must be fitted over all of them. Rather than teach every step about
several scenes, the scenes are placed on one canvas, top to bottom, separated by blank rows at
least half a window high, so one reduced cube, one label grid and one patch gatherer serve them
all: a patch at a scene's edge sees blank (zero) pixels beyond it, exactly as the zero padding of a
single scene gives. Blank pixels are invalid, so they never enter the PCA, training or accuracy.
The split sees the canvas as one scene too: each class is drawn over all the rasters, and as no
patch crosses the blank rows, the disjoint split's dropping of training pixels near test ground
holds between rasters as within one.
"""
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np

from .blocks import Block


@dataclass(frozen=True)
class Mosaic:
    sizes: tuple[tuple[int, int], ...]  # (height, width) of each scene, in canvas order
    gap: int                            # blank rows between scenes

    @classmethod
    def of(cls, sizes: Iterable[tuple[int, int]], window: int) -> "Mosaic":
        return cls(tuple((int(h), int(w)) for h, w in sizes), window // 2)

    @property
    def offsets(self) -> tuple[int, ...]:
        """The canvas row of each scene's first row."""
        heights = [h for h, _ in self.sizes]
        return tuple(int(v) for v in np.cumsum([0] + [h + self.gap for h in heights[:-1]]))

    @property
    def height(self) -> int:
        return self.offsets[-1] + self.sizes[-1][0]

    @property
    def width(self) -> int:
        return max(w for _, w in self.sizes)

    def blocks(self, scene_blocks: Sequence[Callable[[], Iterable[Block]]]) -> Callable[[], Iterator[Block]]:
        """A callable returning a fresh iterator over every scene's blocks in canvas coordinates;
        ``scene_blocks[i]()`` returns a fresh iterator of scene i's blocks."""
        def canvas_blocks():
            for offset, blocks in zip(self.offsets, scene_blocks):
                for block in blocks():
                    yield replace(block, row=block.row + offset)
        return canvas_blocks

    def stack(self, grids: Sequence[np.ndarray], fill: float = 0) -> np.ndarray:
        """The scenes' (H_i, W_i, ...) arrays on the canvas, ``fill`` in the blank space."""
        canvas = np.full((self.height, self.width) + grids[0].shape[2:], fill,
                         dtype=np.result_type(*[g.dtype for g in grids]))
        for offset, grid in zip(self.offsets, grids):
            canvas[offset:offset + grid.shape[0], :grid.shape[1]] = grid
        return canvas
