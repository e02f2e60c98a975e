"""Several rasters trained as one: on the mosaic's canvas a patch at a scene's edge is the scene's
own zero-padded patch, the split is drawn within each scene, and training runs over all of them."""
import numpy as np
import pytest

from fast3dcnn_qgis.core.blocks import array_blocks
from fast3dcnn_qgis.core.mosaic import Mosaic
from fast3dcnn_qgis.core.patches import extract_patches
from fast3dcnn_qgis.core.settings import TrainingConfig, TrainingSettings
from fast3dcnn_qgis.core.splits import labelled_pixels, make_split, make_split_per_scene
from fast3dcnn_qgis.core.workflow import Scene, train_classifier

from .conftest import SALINAS_BAD_BANDS


def two_scenes(salinas):
    """Salinas-A cut into a top scene and a narrower bottom scene: two rasters of one sensor."""
    cube, labels = salinas
    return [(cube[:40], labels[:40]), (cube[40:, 10:], labels[40:, 10:])]


def test_patches_on_the_canvas_are_each_scenes_zero_padded_patches(salinas):
    scenes = two_scenes(salinas)
    mosaic = Mosaic.of([labels.shape for _, labels in scenes], 11, ["top", "bottom"])
    assert mosaic.offsets == (0, 45) and (mosaic.height, mosaic.width) == (88, 86)
    canvas = mosaic.stack([cube.astype(np.float32) for cube, _ in scenes])
    for offset, (cube, _) in zip(mosaic.offsets, scenes):
        rows = np.array([0, 3, cube.shape[0] - 1, cube.shape[0] - 2])
        cols = np.array([0, cube.shape[1] - 1, 5, cube.shape[1] - 3])
        np.testing.assert_array_equal(extract_patches(canvas, rows + offset, cols, 11),
                                      extract_patches(cube.astype(np.float32), rows, cols, 11))
    assert list(mosaic.scene_of_rows([0, 39, 44, 45, 87])) == [0, 0, 0, 1, 1]


def test_the_split_is_drawn_within_each_raster(salinas):
    scenes = two_scenes(salinas)
    mosaic = Mosaic.of([labels.shape for _, labels in scenes], 11, ["top", "bottom"])
    rows, cols, labels = labelled_pixels(mosaic.stack([labels for _, labels in scenes]))
    owner = mosaic.scene_of_rows(rows)
    split = make_split_per_scene(rows, cols, labels, owner, "disjoint", seed=0, window=11)
    for scene in (0, 1):
        mine = owner == scene
        alone = make_split(rows[mine], cols[mine], labels[mine], "disjoint", seed=0, window=11)
        for pooled, single in zip((split.train, split.val, split.test), (alone.train, alone.val, alone.test)):
            np.testing.assert_array_equal(pooled[mine[pooled]], np.flatnonzero(mine)[single])


@pytest.mark.slow
def test_training_over_two_rasters(salinas):
    scenes = two_scenes(salinas)
    mosaic = Mosaic.of([labels.shape for _, labels in scenes], 9, ["top", "bottom"])
    blocks = mosaic.blocks([lambda cube=cube: array_blocks(cube, 16, 16) for cube, _ in scenes])
    grid = mosaic.stack([labels for _, labels in scenes])
    settings = TrainingSettings(exclude_bands=SALINAS_BAD_BANDS, training=TrainingConfig(window=9, epochs=3))
    classifier = train_classifier(Scene(blocks, mosaic.height, mosaic.width, 224, grid, mosaic=mosaic), settings)
    record = classifier.record
    assert record.accuracy["n_pixels"] == record.split["n_test"] and record.accuracy["overall_accuracy"] > 0.7
    owner = mosaic.scene_of_rows(labelled_pixels(grid)[0])
    assert record.split["n_test"] == sum(len(make_split(*labelled_pixels(labels), "paper").test)
                                         for _, labels in scenes) and set(owner) == {0, 1}
    # The PCA saw both rasters' pixels, and no blank canvas pixel.
    assert classifier.reducer.n_fit_pixels_ == sum(labels.size for _, labels in scenes)
