"""fast3dcnn:assess: the figures equal the core metrics on a map with known errors, for a label raster
and for reference points in another CRS whose class field holds names."""
import json
import os

import numpy as np
import processing
import pytest
from osgeo import gdal, ogr, osr
from qgis.core import QgsProcessingException

import helpers
from fast3dcnn_qgis.core.area_estimation import good_practice_estimates
from fast3dcnn_qgis.core.classes import ClassTable
from fast3dcnn_qgis.core.metrics import accuracy_report
from fast3dcnn_qgis.gdal_io.writing import ClassMapWriter
from fast3dcnn_qgis.gdal_io.reading import open_raster, raster_info

NAMES = helpers.NAMES
GEOTRANSFORM = helpers.GEOTRANSFORM


@pytest.fixture(scope="module")
def scene(salinas, tmp_path_factory):
    """(reference labels path, class map path, reference array, map array): the map confuses a fifth
    of the corn with lettuce 4wk and leaves some lettuce 7wk unclassified."""
    folder = tmp_path_factory.mktemp("assess")
    reference_path = str(helpers.georeferenced_copy(salinas[1], folder / "reference.tif"))
    reference = gdal.Open(reference_path).ReadAsArray()
    mapped = reference.copy()
    columns = np.arange(reference.shape[1])
    mapped[(reference == 10) & (columns % 5 == 0)] = 11
    mapped[(reference == 14) & (columns % 7 == 0)] = 0
    mapped[reference == 0] = 12  # the map classifies everything; unlabelled reference pixels do not count
    map_path = str(folder / "map.tif")
    with ClassMapWriter(map_path, raster_info(open_raster(reference_path)), ClassTable.from_ids(NAMES, NAMES)) as writer:
        writer.write(0, 0, mapped)
        writer.commit()
    return reference_path, map_path, reference, mapped


def test_raster_reference_gives_the_core_figures(qgis_app, tmp_path, scene):
    reference_path, map_path, reference, mapped = scene
    report = str(tmp_path / "accuracy.html")
    result = processing.run("fast3dcnn:assess", {"INPUT": map_path, "REFERENCE": reference_path,
                                                 "OUTPUT_REPORT": report})
    expected = accuracy_report(reference, mapped, sorted(NAMES), NAMES)
    assert result["OUTPUT_REPORT"] == report and result["OUTPUT_JSON"] == str(tmp_path / "accuracy.json")
    assert result["OVERALL_ACCURACY"] == pytest.approx(expected["overall_accuracy"])
    assert result["AVERAGE_ACCURACY"] == pytest.approx(expected["average_accuracy"])
    assert result["KAPPA"] == pytest.approx(expected["kappa"])
    written = json.load(open(result["OUTPUT_JSON"], encoding="utf-8"))
    for key in ("overall_accuracy", "average_accuracy", "kappa", "n_pixels", "n_unclassified", "class_ids",
                "per_class", "confusion_matrix"):
        assert written["accuracy"][key] == expected[key], key
    assert written["accuracy"]["n_unclassified"] > 0 and expected["overall_accuracy"] < 0.96
    page = open(report, encoding="utf-8").read()
    assert NAMES[10] in page and "data:image/png;base64," in page


def test_good_practice_estimates_weight_the_reference_by_the_maps_class_areas(qgis_app, tmp_path, scene):
    """Strata are the map's classes with their pixels counted over the whole map, in hectares on the
    3.7 m UTM grid; reference pixels the map leaves unclassified are in no stratum."""
    reference_path, map_path, reference, mapped = scene
    result = processing.run("fast3dcnn:assess", {"INPUT": map_path, "REFERENCE": reference_path,
                                                 "OUTPUT_REPORT": str(tmp_path / "accuracy.html")})
    estimates = json.load(open(result["OUTPUT_JSON"], encoding="utf-8"))["area_estimates"]
    ids = sorted(NAMES)
    sampled = (reference > 0) & (mapped > 0)
    counts = np.array([[np.sum(sampled & (mapped == m) & (reference == r)) for r in ids] for m in ids])
    expected = good_practice_estimates(counts, [np.sum(mapped == c) for c in ids], 3.7 ** 2 / 10000, "ha", ids,
                                       NAMES)
    assert estimates["unit"] == "ha" and estimates["pixel_area"] == pytest.approx(0.001369)
    assert estimates["overall_accuracy"] == pytest.approx(expected["overall_accuracy"])
    assert estimates["n_reference_unclassified"] == np.sum((reference > 0) & (mapped == 0))
    by_id = {c["id"]: c for c in estimates["per_class"]}
    assert by_id[12]["mapped_area"] == pytest.approx(np.sum(mapped == 12) * 0.001369)
    # A fifth of the corn is mapped as lettuce 4wk: the error-adjusted areas move it back.
    assert by_id[10]["area"] > by_id[10]["mapped_area"] and by_id[11]["area"] < by_id[11]["mapped_area"]
    assert estimates["per_class"] == pytest.approx(expected["per_class"])
    page = open(result["OUTPUT_REPORT"], encoding="utf-8").read()
    assert "Accuracy and area to good practice (Olofsson et al. 2014)" in page
    assert f"{100 * estimates['overall_accuracy']:.2f}% ± {100 * estimates['overall_ci95']:.2f}%" in page


def write_points(path, reference, names, every=9):
    """Every ``every``-th labelled pixel centre as a point in WGS 84, its class as a name."""
    rows, cols = np.nonzero(reference)
    rows, cols = rows[::every], cols[::every]
    wgs84 = helpers.srs(4326)
    to_wgs84 = osr.CoordinateTransformation(helpers.srs(helpers.UTM_EPSG), wgs84)
    source = ogr.GetDriverByName("GPKG").CreateDataSource(path)
    layer = source.CreateLayer("reference", wgs84, ogr.wkbPoint)
    layer.CreateField(ogr.FieldDefn("class", ogr.OFTString))
    for row, col in zip(rows, cols):
        x = GEOTRANSFORM[0] + (col + 0.5) * GEOTRANSFORM[1]
        y = GEOTRANSFORM[3] + (row + 0.5) * GEOTRANSFORM[5]
        lon, lat, _ = to_wgs84.TransformPoint(x, y)
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetField("class", names[int(reference[row, col])])
        feature.SetGeometry(ogr.CreateGeometryFromWkt(f"POINT ({lon!r} {lat!r})"))
        layer.CreateFeature(feature)
    source = None
    return rows, cols


def test_points_in_another_crs_with_class_names(qgis_app, tmp_path, scene):
    reference_path, map_path, reference, mapped = scene
    # Names in other case match the map's names; a class the map does not know counts as an error.
    names = {c: n.upper() for c, n in NAMES.items()}
    names[13] = "Bare soil"
    points = str(tmp_path / "points.gpkg")
    rows, cols = write_points(points, reference, names)
    result = processing.run("fast3dcnn:assess", {"INPUT": map_path, "REFERENCE": points, "CLASS_FIELD": "class",
                                                 "OUTPUT_REPORT": str(tmp_path / "points.html")})
    truth = reference[rows, cols].astype(int)
    truth[truth == 13] = 15  # the next id after the map's
    expected = accuracy_report(truth, mapped[rows, cols], sorted(set(NAMES) | {15}), {**NAMES, 15: "Bare soil"})
    written = json.load(open(result["OUTPUT_JSON"], encoding="utf-8"))
    assert written["accuracy"]["n_pixels"] == len(rows)
    assert written["accuracy"]["confusion_matrix"] == expected["confusion_matrix"]
    assert result["OVERALL_ACCURACY"] == pytest.approx(expected["overall_accuracy"])
    assert [c["name"] for c in written["accuracy"]["per_class"]][-1] == "Bare soil"


def test_vector_reference_needs_its_class_field(qgis_app, tmp_path, scene):
    points = str(tmp_path / "points.gpkg")
    write_points(points, scene[2], NAMES)
    with pytest.raises(QgsProcessingException, match="CLASS_FIELD.*fields of 'points'.*class"):
        processing.run("fast3dcnn:assess", {"INPUT": scene[1], "REFERENCE": points,
                                            "OUTPUT_REPORT": str(tmp_path / "x.html")})
    assert not os.path.exists(tmp_path / "x.html")
