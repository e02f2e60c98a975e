"""The network of the paper's Table I, written once as a pure Keras 3 builder.

Only the ``keras`` API is used, so the TensorFlow backend (the default and tested one) and the JAX
or PyTorch backends (``KERAS_BACKEND``) build the same model from the same code.
"""
import keras

#: (filters, spectral kernel depth) of the four Conv3D layers; spatial kernels are all 3 x 3.
CONV_LAYERS = ((8, 7), (16, 5), (32, 3), (64, 3))
DENSE_UNITS = (256, 128)


def min_band_count():
    """The spectral depth the valid convolutions consume: B must exceed it."""
    return sum(depth - 1 for _, depth in CONV_LAYERS)


def min_window():
    """The smallest spatial window the four 3 x 3 valid convolutions accept."""
    return 2 * len(CONV_LAYERS) + 1


def build_fast3dcnn(window, bands, n_classes, dropout=0.4):
    """The Fast 3D CNN for S x S x B patches (input shape (S, S, B, 1)) and ``n_classes`` outputs.

    With S = 11, B = 20 and 6 classes it has exactly 994,166 parameters, as in the paper.
    """
    if window < min_window():
        raise ValueError(f"window {window} is too small: the network needs at least {min_window()}")
    if bands <= min_band_count():
        raise ValueError(f"{bands} bands are too few: the network needs at least {min_band_count() + 1}")
    inputs = keras.Input(shape=(window, window, bands, 1), name="patch")
    x = inputs
    for i, (filters, depth) in enumerate(CONV_LAYERS, start=1):
        x = keras.layers.Conv3D(filters, (3, 3, depth), padding="valid", activation="relu",
                                name=f"conv3d_{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    for i, units in enumerate(DENSE_UNITS, start=1):
        x = keras.layers.Dense(units, activation="relu", name=f"dense_{i}")(x)
        x = keras.layers.Dropout(dropout, name=f"dropout_{i}")(x)
    outputs = keras.layers.Dense(n_classes, activation="softmax", name="classes")(x)
    return keras.Model(inputs, outputs, name="fast3dcnn")
