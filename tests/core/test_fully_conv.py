"""The fully convolutional path gives the patch network's labels and probabilities everywhere.

Checked on Salinas-A, with random and trained weights, at windows 11 and 25, with zero and reflect
padding (so the scene's borders), nodata pixels, and blocks and tiles of several sizes.
"""
import keras
import numpy as np
import pytest

from fast3dcnn_qgis.core.bands import kept_bands
from fast3dcnn_qgis.core.blocks import Block, array_blocks
from fast3dcnn_qgis.core.classes import ClassTable
from fast3dcnn_qgis.core.classifier import Fast3DCNNClassifier
from fast3dcnn_qgis.core.fully_conv import bytes_per_position, fully_convolutional, tile_shape, tiled_probabilities
from fast3dcnn_qgis.core.network import build_fast3dcnn
from fast3dcnn_qgis.core.prediction import patch_probabilities, predict_blocks, reduce_block
from fast3dcnn_qgis.core.reduction import SpectralReducer
from fast3dcnn_qgis.core.settings import TrainingConfig, TrainingSettings
from fast3dcnn_qgis.core.workflow import Scene, train_classifier

from .conftest import SALINAS_BAD_BANDS

NODATA = -9999
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def scene(salinas):
    """Salinas-A with a few nodata pixels, two of them on the border."""
    cube, labels = salinas
    cube = cube.copy()
    for row, col in ((0, 5), (40, 0), (20, 30), (21, 30)):
        cube[row, col, 7] = NODATA
    return cube, labels


def random_classifier(cube, window, padding, components=20, n_classes=6, seed=0):
    reducer = SpectralReducer(kept_bands(cube.shape[2], SALINAS_BAD_BANDS), NODATA, components)
    reducer.fit_blocks(block.data for block in array_blocks(cube, 32))
    keras.utils.set_random_seed(seed)
    network = build_fast3dcnn(window, components, n_classes)
    classes = ClassTable.from_ids(np.arange(1, n_classes + 1) * 3)
    return Fast3DCNNClassifier(reducer, network, window, classes, cube.shape[2], padding)


def trained_classifier(scene, window):
    """A classifier trained for two epochs; at S = 25 on a sparse grid of labels, to keep the test quick."""
    cube, labels = scene
    if window > 11:
        sparse = np.zeros_like(labels)
        sparse[::5, ::5] = labels[::5, ::5]
        labels = sparse
    settings = TrainingSettings(exclude_bands=SALINAS_BAD_BANDS, split="count", split_value=10,
                                training=TrainingConfig(window=window, epochs=2, batch_size=64))
    return train_classifier(Scene(lambda: array_blocks(cube, 32), *cube.shape, labels, nodata=NODATA), settings)


def reference(classifier, cube):
    """Probabilities, labels and confidence of the patch network over the scene as one block."""
    padded, valid = reduce_block(classifier, Block(0, 0, cube))
    probabilities = patch_probabilities(classifier.network, padded, classifier.window)
    labels = np.where(valid, classifier.class_ids[probabilities.argmax(axis=-1)], 0)
    return padded, probabilities, labels, np.where(valid, probabilities.max(axis=-1), 0)


def predict_scene(classifier, cube, block_rows, block_cols, **options):
    labels = np.full(cube.shape[:2], -1)
    confidence = np.full(cube.shape[:2], -1.0, dtype=np.float32)
    blocks = array_blocks(cube, block_rows, block_cols, halo=classifier.window // 2)
    for block, block_labels, block_confidence, _, _ in predict_blocks(classifier, blocks, **options):
        rows, cols = block.shape
        labels[block.row:block.row + rows, block.col:block.col + cols] = block_labels
        confidence[block.row:block.row + rows, block.col:block.col + cols] = block_confidence
    return labels, confidence


def assert_same_predictions(classifier, cube, block_options):
    """Full probabilities over small tiles, then labels and confidence over blocks of (rows, cols, options)."""
    padded, probabilities, labels, confidence = reference(classifier, cube)
    assert (labels == 0).sum() == (~classifier.reducer.transform_block(cube)[1]).sum()
    twin = fully_convolutional(classifier.network)
    small_tiles = (2 * classifier.window) ** 2 * bytes_per_position(classifier.reducer.n_components,
                                                                len(classifier.class_ids))
    np.testing.assert_allclose(tiled_probabilities(twin, padded, classifier.window, small_tiles), probabilities,
                               rtol=0, atol=TOLERANCE)
    for block_rows, block_cols, options in block_options:
        got_labels, got_confidence = predict_scene(classifier, cube, block_rows, block_cols, **options)
        np.testing.assert_array_equal(got_labels, labels)
        np.testing.assert_allclose(got_confidence, confidence, rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize("padding", ["zero", "reflect"])
@pytest.mark.slow
def test_window_11_random_weights_whole_scene(scene, padding):
    cube = scene[0]
    classifier = random_classifier(cube, 11, padding, seed=1)
    assert_same_predictions(classifier, cube, [(83, None, {}), (16, 23, {"prefetch": True}),
                                               (30, None, {"budget_bytes": 2 ** 20})])


@pytest.mark.parametrize("padding, components", [("zero", 20), ("reflect", 17)])
@pytest.mark.slow
def test_window_25_random_weights_scene_corner(scene, padding, components):
    cube = scene[0][:24, :27]  # the patch reference costs 200 million multiply-adds per pixel at S = 25
    classifier = random_classifier(cube, 25, padding, components, n_classes=4, seed=2)
    assert_same_predictions(classifier, cube, [(13, 17, {"budget_bytes": 2 ** 20})])


@pytest.mark.slow
def test_window_11_trained(scene):
    cube = scene[0]
    classifier = trained_classifier(scene, 11)
    assert_same_predictions(classifier, cube, [(83, None, {}), (25, 40, {"budget_bytes": 2 ** 20})])


@pytest.mark.slow
def test_window_25_trained_scene_corner(scene):
    classifier = trained_classifier(scene, 25)
    assert_same_predictions(classifier, scene[0][-22:, -25:], [(9, 11, {})])


def test_patch_method_gives_the_reference(scene):
    cube = scene[0][:20, :24]
    classifier = random_classifier(cube, 11, "reflect", seed=3)
    _, _, labels, confidence = reference(classifier, cube)
    got_labels, got_confidence = predict_scene(classifier, cube, 7, 9, method="patch")
    np.testing.assert_array_equal(got_labels, labels)
    np.testing.assert_allclose(got_confidence, confidence, rtol=0, atol=1e-6)


def test_twin_has_the_patch_network_weights_in_convolutional_shapes():
    network = build_fast3dcnn(11, 20, 6)
    twin = fully_convolutional(network)
    assert twin.count_params() == network.count_params() == 994166
    assert twin.get_layer("dense_1").kernel.shape == (3, 3, 6 * 64, 256)
    assert twin.get_layer("classes").kernel.shape == (1, 1, 128, 6)
    assert twin.output_shape == (None, None, None, 6)


def test_tiles_fit_the_budget_and_cover_the_block():
    budget = 64 * 2 ** 20
    per_position = bytes_per_position(20, 16)
    for rows, cols in ((2000, 2000), (100, 2000), (50, 60), (2000, 30)):
        tile_rows, tile_cols = tile_shape(rows, cols, 11, 20, 16, budget)
        assert 1 <= tile_rows <= rows and 1 <= tile_cols <= cols
        assert (tile_rows + 10) * (tile_cols + 10) * per_position <= budget
    assert tile_shape(50, 60, 11, 20, 16, budget) == (50, 60)
    assert tile_shape(100, 2000, 11, 20, 16, 2 ** 30)[1] == 2000
    assert tile_shape(2000, 2000, 25, 20, 16, 1) == (24, 24)


def test_unknown_method_names_the_choices(scene):
    classifier = random_classifier(scene[0][:12, :12], 11, "zero")
    with pytest.raises(ValueError, match="'patches' is not one of fully_convolutional, patch"):
        next(predict_blocks(classifier, array_blocks(scene[0][:12, :12], 12), method="patches"))
