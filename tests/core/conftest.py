"""Fixtures for the core tests: the shipped Salinas-A scene as arrays, and a trained classifier."""
import os

import numpy as np
import pytest

DATA = os.path.join(os.path.dirname(__file__), "..", "data")
#: The paper's water-absorption bands of the 224-band AVIRIS cube (1-based).
SALINAS_BAD_BANDS = "108-112,154-167,224"


@pytest.fixture(scope="session")
def salinas():
    """(cube (83, 86, 224) int16, labels (83, 86)) of AVIRIS Salinas-A, read from the shipped GeoTIFFs.

    GDAL reads them here; where it is absent (the core alone on a GPU machine with another Keras
    backend) tifffile does.
    """
    try:
        from osgeo import gdal
    except ImportError:
        import tifffile
        cube = tifffile.imread(os.path.join(DATA, "salinas_a.tif"))
        labels = tifffile.imread(os.path.join(DATA, "salinas_a_gt.tif"))
    else:
        cube = gdal.Open(os.path.join(DATA, "salinas_a.tif")).ReadAsArray().transpose(1, 2, 0)
        labels = gdal.Open(os.path.join(DATA, "salinas_a_gt.tif")).ReadAsArray()
    assert cube.shape == (83, 86, 224), cube.shape
    return np.ascontiguousarray(cube), labels


@pytest.fixture(scope="session")
def salinas_classifier(salinas):
    """A classifier trained for a few epochs on Salinas-A with a 9 x 9 window (fast, still accurate)."""
    from fast3dcnn_qgis.core.blocks import array_blocks
    from fast3dcnn_qgis.core.classes import ClassTable
    from fast3dcnn_qgis.core.settings import TrainingConfig, TrainingSettings
    from fast3dcnn_qgis.core.workflow import Scene, train_classifier
    cube, labels = salinas
    settings = TrainingSettings(exclude_bands=SALINAS_BAD_BANDS,
                                training=TrainingConfig(window=9, epochs=3, seed=1))
    classes = ClassTable.from_ids([1, 10], {1: "Brocoli_green_weeds_1", 10: "Corn_senesced_green_weeds"})
    return train_classifier(Scene(lambda: array_blocks(cube, 32), *cube.shape, labels, classes=classes), settings)
