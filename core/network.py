"""The network of the paper's Table I, written once as a pure Keras 3 builder.

Only the ``keras`` API is used, so the TensorFlow backend (the default and tested one) and the JAX
or PyTorch backends (``KERAS_BACKEND``) build the same model from the same code. The layer sizes
and the limits they impose live in ``settings``, which the plugin reads without Keras.
"""
from __future__ import annotations

import keras

from .settings import CONV_LAYERS, DENSE_UNITS, DROPOUT, INITIALIZERS, check_components, check_window


def build_fast3dcnn(window: int, bands: int, n_classes: int, dropout: float = DROPOUT.default, dtype: str | None = None,
                    initializer: str = INITIALIZERS[0]) -> keras.Model:
    """The Fast 3D CNN for S x S x B patches (input shape (S, S, B, 1)) and ``n_classes`` outputs.

    With S = 11, B = 20 and 6 classes it has exactly 994,166 parameters, as in the paper. ``dtype``
    is a Keras dtype policy for every layer but the softmax, which stays float32 (Keras's advice for
    mixed precision); the weights are float32 whatever it is. ``initializer`` (one of INITIALIZERS)
    draws the first weights of the ReLU layers; the softmax layer keeps Keras's default.
    """
    check_window(window)
    check_components(bands)
    inputs = keras.Input(shape=(window, window, bands, 1), name="patch")
    x = inputs
    for i, (filters, depth) in enumerate(CONV_LAYERS, start=1):
        x = keras.layers.Conv3D(filters, (3, 3, depth), padding="valid", activation="relu",
                                name=f"conv3d_{i}", dtype=dtype, kernel_initializer=initializer)(x)
    x = keras.layers.Flatten(name="flatten", dtype=dtype)(x)
    for i, units in enumerate(DENSE_UNITS, start=1):
        x = keras.layers.Dense(units, activation="relu", name=f"dense_{i}", dtype=dtype,
                               kernel_initializer=initializer)(x)
        x = keras.layers.Dropout(dropout, name=f"dropout_{i}", dtype=dtype)(x)
    outputs = keras.layers.Dense(n_classes, activation="softmax", name="classes")(x)
    return keras.Model(inputs, outputs, name="fast3dcnn")
