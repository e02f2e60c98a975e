import keras
import numpy as np
import pytest

from fast3dcnn_qgis.core.network import build_fast3dcnn

# Part of the suite that `make test-debian-unstable` runs (pytest -m debian_unstable).
pytestmark = pytest.mark.debian_unstable

# Table I of the paper: S = 11, B = 20, 6 classes.
TABLE_I = [
    ("conv3d_1", (9, 9, 14, 8), 512),
    ("conv3d_2", (7, 7, 10, 16), 5776),
    ("conv3d_3", (5, 5, 8, 32), 13856),
    ("conv3d_4", (3, 3, 6, 64), 55360),
    ("flatten", (3456,), 0),
    ("dense_1", (256,), 884992),
    ("dropout_1", (256,), 0),
    ("dense_2", (128,), 32896),
    ("dropout_2", (128,), 0),
    ("classes", (6,), 774),
]


def test_table_one_shapes_and_parameters():
    model = build_fast3dcnn(11, 20, 6)
    assert model.count_params() == 994166
    layers = [layer for layer in model.layers if layer.name != "patch"]
    assert [layer.name for layer in layers] == [name for name, _, _ in TABLE_I]
    for layer, (name, shape, params) in zip(layers, TABLE_I):
        assert tuple(layer.output.shape[1:]) == shape, name
        assert layer.count_params() == params, name
    assert model.layers[1].kernel_size == (3, 3, 7) and model.layers[1].activation.__name__ == "relu"


@pytest.mark.parametrize("window,bands,classes", [(9, 15, 2), (25, 30, 16), (31, 20, 9)])
def test_other_windows_and_band_counts_build_and_predict(window, bands, classes):
    model = build_fast3dcnn(window, bands, classes, dropout=0.2)
    out = model.predict_on_batch(np.zeros((2, window, window, bands, 1), dtype=np.float32))
    assert out.shape == (2, classes)
    assert np.allclose(np.asarray(out).sum(axis=1), 1, atol=1e-5)


def test_too_small_shapes_are_refused():
    with pytest.raises(ValueError, match="window size 7 is not an odd number from 9 to 31"):
        build_fast3dcnn(7, 20, 3)
    with pytest.raises(ValueError, match="14 components are too few"):
        build_fast3dcnn(11, 14, 3)


def test_he_initialisation_keeps_the_signal_through_the_relu_layers_with_the_same_network():
    glorot, he = build_fast3dcnn(11, 20, 6), build_fast3dcnn(11, 20, 6, initializer="he_normal")
    assert he.count_params() == glorot.count_params() == 994166
    fan_in = 3 * 3 * 3 * 32
    assert np.std(he.get_layer("conv3d_4").kernel) == pytest.approx(np.sqrt(2 / fan_in), rel=0.05)
    # The softmax layer keeps Keras's default: He's variance is for layers followed by a ReLU.
    assert np.std(he.get_layer("classes").kernel) == pytest.approx(np.sqrt(2 / (128 + 6)), rel=0.2)
    patches = np.random.default_rng(0).normal(size=(64, 11, 11, 20, 1)).astype(np.float32)
    spread = [np.std(keras.Model(model.input, model.get_layer("dense_2").output)(patches)) for model in (glorot, he)]
    assert spread[1] > 3 * spread[0]
