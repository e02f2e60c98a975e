"""The patch network rewritten as a fully convolutional network that classifies a whole tile at once.

The patch network runs its four Conv3D layers on every S x S patch, so neighbouring pixels recompute
the same feature maps (S = 11, B = 20: about 10 million multiply-adds per pixel). Applied once over
a padded tile, the convolutions are shared: Dense 256 sees a patch's whole last feature map,
(S-8) x (S-8) x (B-14) x 64, so it is a Conv3D with kernel (S-8, S-8, B-14) whose weights are the
Dense kernel reshaped in Flatten's channels-last order; the later Dense layers are 1 x 1 x 1
convolutions, and Dropout is the identity at inference. Same probabilities, about 1.4 million
multiply-adds per pixel.

A kernel that spans the whole spectral depth leaves a depth of 1, so these convolutions are
computed as the identical Conv2D over (depth x channels) folded into one channel axis:
TensorFlow's CPU Conv2D runs Dense 256's, the bulk of the work, near the machine's peak, about
3 times faster than its Conv3D does (measured on 2 AVX-512 cores).
"""
from __future__ import annotations

import keras
import numpy as np
from keras import ops

from .settings import CONV_LAYERS, DENSE_UNITS
from .spectral_conv import conv_call

#: Default memory for one tile's activations.
DEFAULT_BUDGET_BYTES = 512 * 2 ** 20


class FoldDepth(keras.layers.Layer):
    """(tiles, rows, cols, depth, channels) -> (tiles, rows, cols, depth * channels), row-major as Flatten."""

    def call(self, x):
        shape = ops.shape(x)
        return ops.reshape(x, (shape[0], shape[1], shape[2], x.shape[3] * x.shape[4]))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:3]) + (input_shape[3] * input_shape[4],)


def fully_convolutional(network: keras.Model, dtype: str | None = None) -> keras.Model:
    """The fully convolutional twin of a patch network of ``build_fast3dcnn``, any window and band count.

    Input (tiles, H + S - 1, W + S - 1, B, 1); output (tiles, H, W, classes): the patch network's
    softmax for every pixel whose S x S patch lies inside the input. ``dtype`` is a Keras dtype
    policy for the twin (e.g. "mixed_bfloat16"); by default float32 like the patch network.
    """
    bands = network.input_shape[3]
    inputs = keras.Input(shape=(None, None, bands, 1), name="tile")
    x, dense_kernel, transfers = inputs, None, []
    for layer in network.layers[1:]:
        if isinstance(layer, keras.layers.Dropout):
            continue
        if isinstance(layer, keras.layers.Flatten):
            dense_kernel = tuple(layer.input.shape[1:3])
            x = FoldDepth(name="fold_depth", dtype=dtype)(x)
            continue
        # The softmax is computed apart, in float32 whatever ``dtype`` (Keras's advice for mixed
        # precision): in bfloat16 the probabilities of a pixel summed to 1 only within 0.3%.
        softmax = getattr(layer.activation, "__name__", "") == "softmax"
        if isinstance(layer, keras.layers.Conv3D) and dense_kernel is None:
            twin = keras.layers.Conv3D(layer.filters, layer.kernel_size, activation=layer.activation,
                                       name=layer.name, dtype=dtype)
        elif isinstance(layer, keras.layers.Dense) and dense_kernel is not None:
            # The first Dense sees the flattened (rows, cols, depth, channels) map: its kernel's
            # rows split, row-major, into exactly the Conv2D kernel's (rows, cols, depth x channels).
            # Later Dense layers see one position's features: 1 x 1 kernels.
            twin = keras.layers.Conv2D(layer.units, dense_kernel, activation=None if softmax else layer.activation,
                                       name=layer.name, dtype=dtype)
            dense_kernel = (1, 1)
        else:
            raise ValueError(f"layer '{layer.name}' ({type(layer).__name__}) has no fully convolutional form")
        x = conv_call(twin)(x)
        if softmax:
            x = keras.layers.Activation("softmax", dtype="float32", name=f"{layer.name}_softmax")(x)
        transfers.append((twin, layer))
    twin_model = keras.Model(inputs, x, name=f"{network.name}_fully_convolutional")
    for twin, layer in transfers:
        kernel, bias = layer.get_weights()
        twin.set_weights([kernel.reshape(twin.kernel.shape), bias])
    return twin_model


def bytes_per_position(bands: int, n_classes: int) -> int:
    """Memory one tile position costs during a forward pass, for sizing tiles to a budget.

    TensorFlow's oneDNN CPU kernels keep each layer's buffer cached after it is freed, so a pass
    holds about the sum of all the layers' activations (input included), not just the widest pair;
    measured peaks were 1.1 to 1.45 times that sum (S = 11 and 25, B = 16 to 30): hence the 1.5.
    """
    floats, depth = bands, bands
    for filters, kernel_depth in CONV_LAYERS:
        depth -= kernel_depth - 1
        floats += depth * filters
    floats += sum(DENSE_UNITS) + n_classes
    return int(1.5 * 4 * floats)


def tile_shape(rows: int, cols: int, window: int, bands: int, n_classes: int,
               budget_bytes: int = DEFAULT_BUDGET_BYTES) -> tuple[int, int]:
    """(tile rows, tile cols) of core pixels per network call, so one tile's activations fit the budget.

    Each tile recomputes an (S - 1)-wide margin, so tiles span whole rows when a strip at least
    4 (S - 1) rows high fits (margin under 25%), and are square otherwise; however small the
    budget, a tile's core is at least S - 1 pixels wide.
    """
    margin = window - 1
    positions = max(budget_bytes // bytes_per_position(bands, n_classes), (2 * margin) ** 2)
    if (cols + margin) * 5 * margin <= positions:
        tile_cols = cols
    else:
        tile_cols = min(cols, int(positions ** 0.5) - margin)
    tile_rows = min(rows, positions // (tile_cols + margin) - margin)
    return tile_rows, tile_cols


def tiled_probabilities(twin: keras.Model, padded: np.ndarray, window: int,
                        budget_bytes: int = DEFAULT_BUDGET_BYTES) -> np.ndarray:
    """Softmax (rows, cols, classes) float32 of every core pixel of a padded (rows + S - 1, cols + S - 1, B) block."""
    margin = window - 1
    rows, cols, bands = padded.shape[0] - margin, padded.shape[1] - margin, padded.shape[2]
    n_classes = twin.output_shape[-1]
    tile_rows, tile_cols = tile_shape(rows, cols, window, bands, n_classes, budget_bytes)
    out = np.empty((rows, cols, n_classes), dtype=np.float32)
    # Every tile of a block has one shape (the last ones zero-filled: the convolutions are valid, so
    # the filling reaches only outputs that are dropped), and runs as a compiled step, traced or
    # jitted once for that shape: called eagerly per tile, JAX on a GPU dispatched each operation
    # on its own (Salinas-A: 16 s against TensorFlow's 0.25 s on a CPU).
    batch = np.zeros((1, tile_rows + margin, tile_cols + margin, bands, 1), dtype=np.float32)
    for row in range(0, rows, tile_rows):
        for col in range(0, cols, tile_cols):
            tile = padded[row:row + tile_rows + margin, col:col + tile_cols + margin]
            if tile.shape[:2] != batch.shape[1:3]:
                batch[:] = 0
            batch[0, :tile.shape[0], :tile.shape[1], :, 0] = tile
            probabilities = np.asarray(twin.predict_on_batch(batch), dtype=np.float32)[0]
            core_rows, core_cols = tile.shape[0] - margin, tile.shape[1] - margin
            out[row:row + core_rows, col:col + core_cols] = probabilities[:core_rows, :core_cols]
    return out
