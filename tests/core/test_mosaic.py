"""Several rasters trained as one: on the mosaic's canvas a patch at a scene's edge is the scene's
own zero-padded patch, each class is split over all scenes at once, and training runs over all of them."""
import numpy as np
import pytest

from fast3dcnn_qgis.core.blocks import array_blocks
from fast3dcnn_qgis.core.mosaic import Mosaic
from fast3dcnn_qgis.core.patches import extract_patches
from fast3dcnn_qgis.core.settings import TrainingConfig, TrainingSettings
from fast3dcnn_qgis.core.splits import labelled_pixels, make_split
from fast3dcnn_qgis.core.workflow import Scene, train_classifier

from .conftest import SALINAS_BAD_BANDS


def two_scenes(salinas):
    """Salinas-A cut into a top scene and a narrower bottom scene: two rasters of one sensor."""
    cube, labels = salinas
    return [(cube[:40], labels[:40]), (cube[40:, 10:], labels[40:, 10:])]


def test_patches_on_the_canvas_are_each_scenes_zero_padded_patches(salinas):
    scenes = two_scenes(salinas)
    mosaic = Mosaic.of([labels.shape for _, labels in scenes], 11)
    assert mosaic.offsets == (0, 45) and (mosaic.height, mosaic.width) == (88, 86)
    canvas = mosaic.stack([cube.astype(np.float32) for cube, _ in scenes])
    for offset, (cube, _) in zip(mosaic.offsets, scenes):
        rows = np.array([0, 3, cube.shape[0] - 1, cube.shape[0] - 2])
        cols = np.array([0, cube.shape[1] - 1, 5, cube.shape[1] - 3])
        np.testing.assert_array_equal(extract_patches(canvas, rows + offset, cols, 11),
                                      extract_patches(cube.astype(np.float32), rows, cols, 11))


def test_the_disjoint_split_holds_out_ground_across_rasters(salinas):
    scenes = two_scenes(salinas)
    mosaic = Mosaic.of([labels.shape for _, labels in scenes], 11)
    grid = mosaic.stack([labels for _, labels in scenes])
    rows, cols, labels = labelled_pixels(grid)
    split = make_split(rows, cols, labels, "disjoint", seed=0, window=11)
    test = np.zeros(grid.shape + (1,), dtype=np.float32)
    test[rows[split.test], cols[split.test]] = 1
    assert not extract_patches(test, rows[split.train], cols[split.train], 11).any()  # the patches training sees
    assert split.not_tested == () and set(labels[split.train]) == set(labels)


@pytest.mark.slow
def test_training_over_two_rasters(salinas):
    scenes = [(cube, labels.copy()) for cube, labels in two_scenes(salinas)]
    for _, labels in scenes:  # two pixels of class 13 in each raster: too few in either, enough in both
        labels[tuple(np.argwhere(labels == 13)[2:].T)] = 0
    mosaic = Mosaic.of([labels.shape for _, labels in scenes], 9)
    blocks = mosaic.blocks([lambda cube=cube: array_blocks(cube, 16, 16) for cube, _ in scenes])
    grid = mosaic.stack([labels for _, labels in scenes])
    settings = TrainingSettings(exclude_bands=SALINAS_BAD_BANDS, training=TrainingConfig(window=9, epochs=3))
    classifier = train_classifier(Scene(blocks, mosaic.height, mosaic.width, 224, grid, mosaic=mosaic), settings)
    record = classifier.record
    assert record.accuracy["n_pixels"] == record.split["n_test"] and record.accuracy["overall_accuracy"] > 0.7
    assert record.split["n_test"] == len(make_split(*labelled_pixels(grid), "paper").test)
    assert record.split["not_tested"] == [] and {c["id"]: c["support"] for c in record.accuracy["per_class"]}[13] == 1
    # The PCA saw both rasters' pixels, and no blank canvas pixel.
    assert classifier.reducer.n_fit_pixels_ == sum(labels.size for _, labels in scenes)
