"""Conv3D layers run as Conv2D over spectral shifts give the Conv3D's outputs and train its weights."""
import keras
import numpy as np
import pytest

from fast3dcnn_qgis.core.batch_loop import predict, train_epoch
from fast3dcnn_qgis.core.fully_conv import fully_convolutional
from fast3dcnn_qgis.core.network import build_fast3dcnn
from fast3dcnn_qgis.core.patches import PatchDataset
from fast3dcnn_qgis.core.spectral_conv import patch_trainer
from fast3dcnn_qgis.core.tile_training import TileDataset, predict_on_tiles, tile_trainer


@pytest.fixture(scope="module")
def scene(salinas):
    """Salinas-A's first 20 bands, standardised, and 200 of its labelled pixels with class indices."""
    cube, labels = salinas
    bands = cube[..., :20].astype(np.float32)
    bands = (bands - bands.mean((0, 1))) / bands.std((0, 1))
    rows, cols = np.nonzero(labels)
    pick = np.random.default_rng(5).choice(len(rows), 200, replace=False)
    return bands, rows[pick], cols[pick], np.unique(labels[rows, cols], return_inverse=True)[1][pick]


def test_tiles_and_patches_give_the_conv3d_outputs(scene):
    cube, rows, cols, _ = scene
    network = build_fast3dcnn(11, 20, 6)
    expected = predict(network, PatchDataset(cube, rows, cols, None, 11, 64))
    patches = predict(patch_trainer(network, shifts=True), PatchDataset(cube, rows, cols, None, 11, 64))
    tiles = predict_on_tiles(tile_trainer(network, 8, shifts=True), TileDataset(cube, rows, cols, None, 11, 64, 8))
    assert np.abs(patches - expected).max() < 1e-5 and np.abs(tiles - expected).max() < 1e-5
    assert patch_trainer(network, shifts=False) is network


def test_the_fully_convolutional_twin_runs_them_where_they_pay(scene, monkeypatch):
    cube = scene[0][:30, :30]
    network = build_fast3dcnn(11, 20, 6)
    padded = np.pad(cube, ((5, 5), (5, 5), (0, 0)))[None, ..., None]
    expected = np.asarray(fully_convolutional(network).predict_on_batch(padded))
    monkeypatch.setattr("fast3dcnn_qgis.core.spectral_conv.shifts_pay", lambda: True)
    twin = fully_convolutional(network)
    assert any(layer.name.endswith("_as_2d") for layer in twin.layers)
    assert np.abs(np.asarray(twin.predict_on_batch(padded)) - expected).max() < 1e-5


@pytest.mark.slow
def test_training_them_trains_the_networks_own_weights(scene):
    cube, rows, cols, targets = scene
    keras.utils.set_random_seed(0)
    network = build_fast3dcnn(11, 20, 6)
    before = [weights.copy() for weights in network.get_weights()]
    trainer = patch_trainer(network, shifts=True)
    trainer.compile(optimizer="adam", loss="sparse_categorical_crossentropy", weighted_metrics=["accuracy"])
    train_epoch(trainer, PatchDataset(cube, rows, cols, targets, 11, 64, shuffle=True))
    after = network.get_weights()
    assert len(trainer.trainable_weights) == len(network.trainable_weights)
    assert all(np.abs(a - b).max() > 0 for a, b in zip(before, after))
    assert np.abs(predict(trainer, PatchDataset(cube, rows, cols, None, 11, 64))
                  - predict(network, PatchDataset(cube, rows, cols, None, 11, 64))).max() < 1e-5
