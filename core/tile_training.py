"""Training the patch network on tiles: the convolutions run once over a tile, the dense layers only
at the training pixels in it.

A training pixel's S x S patch overlaps its neighbours' patches, so training patch by patch convolves
the same scene pixels up to S^2 times. Here a batch is a few core x core tiles of the scene (each
read with the S - 1 margin its pixels' patches need) holding the batch's training pixels: the four
Conv3D layers run once over each tile, each pixel's (S-8) x (S-8) window of the last feature map is
gathered in Flatten's order, and the patch network's own Dense and Dropout layers follow. The
layers are the patch network's, shared: the weights trained are its weights, and a pixel's output
is exactly the patch network's output on its patch (the window of a valid convolution over the tile
is the convolution over the patch; padding outside the scene is the same zeros or reflection).

It pays where training pixels are dense (random splits of field-sized ground truth): on training
tiles (TRAINING_TILE_CORE) the multiply-adds per training pixel fall 3.7 times on Indian Pines at
S = 21 and 2 times at S = 11. Where they are scattered (points, a few pixels per field), a tile's
convolutions serve few pixels and patches are cheaper: ``tiling_gain`` counts both, and training takes tiles where they save enough
(settings.MIN_TILING_GAIN) to pay for the epochs their less varied batches cost.
"""
from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops
from numpy.typing import ArrayLike

from .batch_loop import predict
from .patches import PixelBatches, add_spectral_noise, extract_windows
from .settings import CONV_LAYERS, DENSE_UNITS
from .spectral_conv import conv_call, jax_platform

#: Side of a tile's core, in pixels, when predicting: large enough that the S - 1 margin is amortised
#: (at S = 21 a core of 16 keeps 94% of the gain of a core of 32 on Indian Pines).
TILE_CORE = 16
#: ... and when training, smaller: a batch then spans more tiles of different ground, and the network
#: learns nearly as fast per epoch as from random patches. On Indian Pines' paper split a batch of 256
#: pixels spans about 17 tiles of 8 (5 of 16); at S = 11, 30 epochs reached 97.5% OA on cores of 8 and
#: 92.8% on cores of 16 (seed 0), at 2.0 instead of 2.3 times fewer multiply-adds than patches.
TRAINING_TILE_CORE = 8


def _last_map_side(window: int) -> int:
    """Side of the last Conv3D layer's feature map for an S-wide patch: each valid 3 x 3 layer takes 2."""
    return window - 2 * len(CONV_LAYERS)


def _conv_work(window: int, bands: int) -> tuple[list[int], int]:
    """(multiply-adds per position of each Conv3D layer, multiply-adds of the dense layers per pixel)."""
    depth, channels, per_position = bands, 1, []
    for filters, kernel_depth in CONV_LAYERS:
        depth -= kernel_depth - 1
        per_position.append(depth * filters * 9 * kernel_depth * channels)
        channels = filters
    side = _last_map_side(window)
    units = (side * side * depth * channels,) + DENSE_UNITS
    return per_position, sum(a * b for a, b in zip(units, units[1:]))


def tiling_gain(rows: np.ndarray, cols: np.ndarray, window: int, bands: int, core: int = TILE_CORE) -> float:
    """How many times fewer multiply-adds tiles cost than patches for training pixels (rows, cols)."""
    per_position, dense = _conv_work(window, bands)
    patch = sum((window - 2 * i) ** 2 * work for i, work in enumerate(per_position, start=1)) + dense
    tiles = np.unique(np.stack([np.asarray(rows) // core, np.asarray(cols) // core]), axis=1).shape[1]
    tile = sum((core + window - 1 - 2 * i) ** 2 * work for i, work in enumerate(per_position, start=1))
    return patch / (tile * tiles / max(len(rows), 1) + dense)


class GatherWindows(keras.layers.Layer):
    """Each pixel's ``size`` x ``size`` window of the tiles' last feature maps, flattened as Flatten does.

    Inputs: the maps (tiles, side, side, depth, channels) and each pixel's flat position
    ``tile * side^2 + row * side + col`` of its window's top-left corner (the pixel's place in its
    tile's core); output (pixels, size * size * depth * channels).
    """

    def __init__(self, size: int, side: int, **kwargs: Any):
        super().__init__(**kwargs)
        self.size, self.side = size, side

    def call(self, maps, positions):
        offsets = (np.arange(self.size)[:, None] * self.side + np.arange(self.size)[None, :]).reshape(-1)
        features = maps.shape[3] * maps.shape[4]
        flat = ops.reshape(maps, (-1, features))
        windows = ops.take(flat, ops.expand_dims(positions, 1) + ops.convert_to_tensor(offsets, "int32"), axis=0)
        return ops.reshape(windows, (-1, self.size * self.size * features))

    def compute_output_shape(self, maps_shape, positions_shape):
        return (positions_shape[0], self.size * self.size * maps_shape[3] * maps_shape[4])


def tile_trainer(network: keras.Model, core: int = TILE_CORE, shifts: bool | None = None) -> keras.Model:
    """A model over (tiles (T, core + S - 1, core + S - 1, B, 1), positions (P,)) giving (P, classes),
    built from ``network``'s own layers, so training it trains ``network`` (its Conv3D layers called
    as spectral_conv.conv_call says, ``shifts`` forcing the choice)."""
    window, bands = network.input_shape[1], network.input_shape[3]
    side = core + window - 1
    tiles = keras.Input(shape=(side, side, bands, 1), name="tiles")
    positions = keras.Input(shape=(), dtype="int32", name="positions")
    x, layers = tiles, iter(network.layers[1:])
    for layer in layers:
        if isinstance(layer, keras.layers.Flatten):
            break
        x = conv_call(layer, shifts)(x)
    size = _last_map_side(window)
    x = GatherWindows(size, core + size - 1, name="gather_windows", dtype=layer.dtype_policy)(x, positions)
    for layer in layers:
        x = layer(x)
    return keras.Model([tiles, positions], x, name=f"{network.name}_on_tiles")


def _fixed_tiles_pay() -> bool:
    """Whether every batch should hold one number of tiles: with JAX on an accelerator, which compiles
    a step for each input shape it meets and computes blank tiles almost for free. Indian Pines at
    S = 11 then compiles one or two training steps and one validation step in 40 epochs, where its
    batches hold 8 to 32 tiles. Elsewhere blank tiles are work for nothing: TensorFlow traces one step
    for any number and PyTorch runs eagerly, and with JAX on 2 CPU cores an epoch took 4.0 s with each
    batch's own number (the first 9.7 s, compiling each new one), 4.6 s with numbers rounded up to 8
    and 7.0 s with 32 in every batch."""
    return jax_platform() not in (None, "cpu")


class TileDataset(PixelBatches):
    """Batches of ((tiles, positions), class indices, weights) of ``batch_size`` pixels each.

    Pixels are grouped by the core x core tile they fall in. With ``shuffle`` the tile grid is shifted
    by a random offset each epoch, the tiles are taken in a random order and the pixels of a tile in
    a random order, so batches differ from epoch to epoch; each batch reads the tiles its pixels lie
    in. Batches always hold ``batch_size`` pixel slots, so that every step has one shape: the unused
    ones of the last batch have weight 0 (the others 1), so the metrics count real pixels only.
    ``slots`` gives, after each epoch's arrangement, which pixel each slot holds (-1: none).
    With ``fixed_tiles`` (by default where they pay, see ``_fixed_tiles_pay``) every batch holds as many
    tiles, blank ones added, as the fullest batch of any arrangement so far, rounded up to 8.
    """

    def __init__(self, cube: np.ndarray, rows: ArrayLike, cols: ArrayLike, targets: ArrayLike | None = None,
                 window: int = 11, batch_size: int = 256, core: int = TILE_CORE, padding: str = "zero",
                 shuffle: bool = False, seed: int = 0, noise: float = 0.0, fixed_tiles: bool | None = None):
        super().__init__(cube, rows, cols, targets, window, batch_size, padding, shuffle, seed, noise)
        self.core = core
        self.fixed_tiles = _fixed_tiles_pay() if fixed_tiles is None else fixed_tiles
        self._tiles_per_batch = 0
        self._arrange()

    def _arrange(self):
        offset = self._rng.integers(0, self.core, 2) if self.shuffle else np.zeros(2, dtype=int)
        tile_rows, tile_cols = (self.rows + offset[0]) // self.core, (self.cols + offset[1]) // self.core
        self._tops, self._lefts = tile_rows * self.core - offset[0], tile_cols * self.core - offset[1]
        key = (tile_rows - tile_rows.min()) * (tile_cols.max() - tile_cols.min() + 1) + tile_cols - tile_cols.min()
        if self.shuffle:
            _, tile_of = np.unique(key, return_inverse=True)
            tile_rank = self._rng.permutation(tile_of.max() + 1)[tile_of]
            self._order = np.lexsort((self._rng.random(len(key)), tile_rank))
        else:
            self._order = np.argsort(key, kind="stable")
        self._key = key
        if self.fixed_tiles:
            fullest = max(len(np.unique(key[self._order[start:start + self.batch_size]]))
                          for start in range(0, len(key), self.batch_size))
            self._tiles_per_batch = max(self._tiles_per_batch, -(-fullest // 8) * 8)

    def slots(self) -> np.ndarray:
        """(num_batches * batch_size,) index of the pixel in each output row of an epoch, -1 where none."""
        slots = np.full(self.num_batches * self.batch_size, -1)
        slots[:len(self._order)] = self._order
        return slots

    def __getitem__(self, index: int) -> tuple:
        pick = self._order[index * self.batch_size:(index + 1) * self.batch_size]
        _, first, tile_of = np.unique(self._key[pick], return_index=True, return_inverse=True)
        margin = self.window // 2
        tiles = extract_windows(self.cube, self._tops[pick[first]] - margin, self._lefts[pick[first]] - margin,
                                self.core + self.window - 1, self.padding)
        if self.fixed_tiles:
            tiles = np.concatenate([tiles, np.zeros((self._tiles_per_batch - len(tiles),) + tiles.shape[1:],
                                                    np.float32)])
        if self.noise:
            tiles = add_spectral_noise(tiles, self._noise_rng, self.noise)
        side = self.core + _last_map_side(self.window) - 1
        positions = np.zeros(self.batch_size, dtype=np.int32)
        positions[:len(pick)] = (tile_of.reshape(-1) * side * side + (self.rows[pick] - self._tops[pick]) * side
                                 + self.cols[pick] - self._lefts[pick])
        inputs = (tiles[..., None], positions)
        if self.targets is None:
            return (inputs,)
        targets = np.zeros(self.batch_size, dtype=self.targets.dtype)
        targets[:len(pick)] = self.targets[pick]
        weights = np.zeros(self.batch_size, dtype=np.float32)
        weights[:len(pick)] = 1.0
        return inputs, targets, weights

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self._arrange()


def predict_on_tiles(trainer: keras.Model, dataset: "TileDataset") -> np.ndarray:
    """Softmax (n, classes) of ``dataset``'s pixels, in their given order."""
    output = predict(trainer, dataset)
    slots = dataset.slots()
    probabilities = np.empty((len(dataset.rows), output.shape[-1]), dtype=np.float32)
    probabilities[slots[slots >= 0]] = output[slots >= 0]
    return probabilities
