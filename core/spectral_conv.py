"""The network's Conv3D layers computed as Conv2D over spectral shifts, where that is faster.

XLA's CPU backend, behind Keras on JAX on a CPU (QGIS on Python 3.14, for which there is no
TensorFlow), has no fast three-dimensional convolution: on 2 CPU cores one step of 17 tiles of
Indian Pines at S = 11, forward and backward, took 513 ms in its four Conv3D layers against 94 ms
done this way (5.4 times). A 3 x 3 x k Conv3D over (rows, cols, depth, channels) is a 3 x 3 Conv2D
over (rows, cols) whose input channels are the k spectral shifts of the input's channels, with the
output depths stacked as a batch: the same multiply-adds, on the Conv3D layer's own kernel
reshaped, so what is trained are the Conv3D layer's weights and the saved network is unchanged.
TensorFlow's and PyTorch's CPU kernels (oneDNN) and GPUs' (cuDNN) do 3-D convolutions well; there
this way was 1.7 to 3.2 times slower (TensorFlow), so it is used with JAX on a CPU only.
"""
from __future__ import annotations

from typing import Any

import keras
from keras import ops


def jax_platform() -> str | None:
    """The platform JAX computes on ("cpu", "gpu", ...), or None when Keras runs on another backend."""
    if keras.backend.backend() != "jax":
        return None
    import jax
    return jax.default_backend()


def shifts_pay() -> bool:
    """Whether Conv3D layers should run as Conv2D over spectral shifts: with JAX on a CPU."""
    return jax_platform() == "cpu"


class SpectralShiftConv(keras.layers.Layer):
    """Calls a Conv3D layer (valid, stride 1, channels last) as a Conv2D over its input's spectral shifts."""

    def __init__(self, conv: keras.layers.Conv3D, **kwargs: Any) -> None:
        super().__init__(name=f"{conv.name}_as_2d", dtype=conv.dtype_policy, **kwargs)
        self.conv = conv

    def build(self, input_shape):
        if not self.conv.built:
            self.conv.build(input_shape)
        self.built = True

    def call(self, x):
        rows, cols, kernel_depth = self.conv.kernel_size
        depth, channels = x.shape[3], x.shape[4]
        out_depth, filters = depth - kernel_depth + 1, self.conv.filters
        shifted = ops.stack([x[:, :, :, shift:shift + out_depth, :] for shift in range(kernel_depth)], axis=4)
        shifted = ops.transpose(shifted, (0, 3, 1, 2, 4, 5))  # (tiles, out depth, rows, cols, shift, channels)
        side_rows, side_cols = ops.shape(x)[1], ops.shape(x)[2]
        shifted = ops.reshape(shifted, (-1, side_rows, side_cols, kernel_depth * channels))
        kernel = ops.reshape(ops.cast(self.conv.kernel, self.compute_dtype),
                             (rows, cols, kernel_depth * channels, filters))
        y = ops.conv(shifted, kernel, strides=1, padding="valid", data_format="channels_last")
        y = ops.reshape(y, (-1, out_depth, side_rows - rows + 1, side_cols - cols + 1, filters))
        y = ops.transpose(y, (0, 2, 3, 1, 4)) + ops.cast(self.conv.bias, self.compute_dtype)
        return self.conv.activation(y)

    def compute_output_shape(self, input_shape):
        return self.conv.compute_output_shape(input_shape)


def conv_call(layer: keras.layers.Layer, shifts: bool | None = None) -> keras.layers.Layer:
    """What to call for ``layer`` in a model built from the network's layers: the layer itself, or
    for a Conv3D layer where ``shifts`` (default: where they pay) its spectral-shift form."""
    if isinstance(layer, keras.layers.Conv3D) and (shifts_pay() if shifts is None else shifts):
        return SpectralShiftConv(layer)
    return layer


def patch_trainer(network: keras.Model, shifts: bool | None = None) -> keras.Model:
    """``network`` itself, or where spectral shifts are used (see conv_call) a model over the same
    patches built from its own layers, so that training it trains ``network``."""
    if not (shifts_pay() if shifts is None else shifts):
        return network
    inputs = keras.Input(shape=network.input_shape[1:], name="patches")
    x = inputs
    for layer in network.layers[1:]:
        x = conv_call(layer, True)(x)
    return keras.Model(inputs, x, name=f"{network.name}_spectral_shifts")
