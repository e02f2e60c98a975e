"""fast3dcnn:importmat through Processing: a .mat made from the shipped Salinas-A comes back exactly."""
import os

import numpy as np
import processing
import pytest
import scipy.io
from osgeo import gdal
from qgis.core import QgsProcessingException

NAMES = {"cube": "salinasA", "labels": "salinasA_gt"}


@pytest.fixture(scope="module")
def scene(salinas):
    cube_path, labels_path = salinas
    return (np.moveaxis(gdal.Open(str(cube_path)).ReadAsArray(), 0, -1),
            gdal.Open(str(labels_path)).ReadAsArray())


@pytest.fixture(scope="module")
def mat_path(tmp_path_factory, scene):
    """Cube as int16 and labels as double (as the published Salinas files store them)."""
    cube, labels = scene
    path = str(tmp_path_factory.mktemp("mat") / "SalinasA.mat")
    scipy.io.savemat(path, {NAMES["cube"]: cube, NAMES["labels"]: labels.astype(np.float64)})
    return path


def test_cube_round_trip(qgis_app, tmp_path, mat_path, scene):
    output = str(tmp_path / "cube.tif")
    result = processing.run("fast3dcnn:importmat", {"INPUT": mat_path, "VARIABLE": NAMES["cube"],
                                                    "OUTPUT": output})
    assert result == {"OUTPUT": output, "IMPORTED_VARIABLE": NAMES["cube"]}
    assert os.listdir(tmp_path) == ["cube.tif"]  # no temporary file, no sidecar
    dataset = gdal.Open(output)
    assert dataset.RasterCount == 224 and (dataset.RasterYSize, dataset.RasterXSize) == (83, 86)
    assert gdal.GetDataTypeName(dataset.GetRasterBand(1).DataType) == "Int16"
    assert dataset.GetMetadata("IMAGE_STRUCTURE")["INTERLEAVE"] == "PIXEL"
    assert dataset.GetMetadata("IMAGE_STRUCTURE")["COMPRESSION"] == "DEFLATE"
    assert dataset.GetGeoTransform(can_return_null=True) is None and not dataset.GetProjection()
    assert dataset.GetRasterBand(1).GetNoDataValue() is None
    assert np.array_equal(np.moveaxis(dataset.ReadAsArray(), 0, -1), scene[0])


def test_label_image_becomes_a_small_integer_band_with_nodata(qgis_app, tmp_path, mat_path, scene):
    output = str(tmp_path / "labels.tif")
    processing.run("fast3dcnn:importmat", {"INPUT": mat_path, "VARIABLE": NAMES["labels"], "ZERO_IS_NODATA": True,
                                           "OUTPUT": output})
    dataset = gdal.Open(output)
    band = dataset.GetRasterBand(1)
    assert gdal.GetDataTypeName(band.DataType) == "Byte" and band.GetNoDataValue() == 0
    assert np.array_equal(band.ReadAsArray(), scene[1])


def test_ambiguous_file_lists_its_images(qgis_app, tmp_path, mat_path):
    with pytest.raises(QgsProcessingException, match="salinasA \\(83 x 86 x 224 int16\\).*salinasA_gt.*VARIABLE"):
        processing.run("fast3dcnn:importmat", {"INPUT": mat_path, "OUTPUT": str(tmp_path / "x.tif")})
    assert os.listdir(tmp_path) == []


def test_only_geotiff_is_written(qgis_app, tmp_path, mat_path):
    with pytest.raises(QgsProcessingException, match="OUTPUT.*\\.tif"):
        processing.run("fast3dcnn:importmat", {"INPUT": mat_path, "VARIABLE": NAMES["labels"],
                                               "OUTPUT": str(tmp_path / "labels.img")})
