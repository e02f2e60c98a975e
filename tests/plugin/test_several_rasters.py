"""Training on several rasters of one sensor: Salinas-A cut into a top and a bottom raster (each
lacking classes the other has), labelled by one vector layer of class names or by a label raster
each; the PCA, the split and the report cover both."""
import json

import numpy as np
import processing
import pytest
from osgeo import gdal
from qgis.core import QgsProcessingException

import helpers

# Co-training off (the default's three more trainings): these tests are not about the recipe.
FAST = {"WINDOW_SIZE": 9, "BANDS": "108-112,154-167,224", "EPOCHS": 2, "SEED": 1, "COTRAINING": 2}


@pytest.fixture(scope="module")
def halves(salinas, tmp_path_factory):
    folder = tmp_path_factory.mktemp("halves")
    cube = helpers.georeferenced_copy(salinas[0], folder / "cube.tif")
    labels = helpers.georeferenced_copy(salinas[1], folder / "labels.tif")
    paths = {}
    for name, window in (("top", [0, 0, 86, 40]), ("bottom", [0, 40, 86, 43])):
        for kind, source in (("cube", cube), ("labels", labels)):
            paths[name, kind] = str(folder / f"{name}_{kind}.tif")
            gdal.Translate(paths[name, kind], str(source), srcWin=window)
    paths["polygons"] = str(helpers.label_polygons(labels, folder / "polygons.gpkg"))
    return folder, paths


@pytest.mark.slow
def test_one_vector_layer_of_names_labels_both_rasters_alike(halves, salinas):
    folder, paths = halves
    results = processing.run("fast3dcnn:train", {
        "INPUT": paths["top", "cube"], "MORE_INPUTS": [paths["bottom", "cube"]], "GROUND_TRUTH": paths["polygons"],
        "CLASS_FIELD": "name", **FAST, "OUTPUT_MODEL": str(folder / "v.f3dcnn"),
        "OUTPUT_REPORT": str(folder / "v.html")})
    record = json.load(open(results["OUTPUT_JSON"], encoding="utf-8"))
    names = sorted(helpers.NAMES.values())
    assert [(c["id"], c["name"]) for c in record["classes"]] == list(enumerate(names, 1))
    # Each name has one id in both rasters: the pixel counts per name are the whole scene's.
    reference = helpers.read(salinas[1])
    expected = {str(names.index(helpers.NAMES[c]) + 1): int(np.sum(reference == c)) for c in helpers.NAMES}
    assert record["labelled_pixels"] == expected
    assert record["split"]["method"] == "grouped"  # the default split holds out whole polygons' fields
    assert len(record["inputs"]["further_rasters"]) == 1 and "bottom_cube.tif" in record["inputs"]["further_rasters"][0]
    assert results["OVERALL_ACCURACY"] > 0.5
    assert "bottom_cube.tif" in open(results["OUTPUT_REPORT"], encoding="utf-8").read()


@pytest.mark.slow
def test_a_label_raster_each(halves):
    folder, paths = halves
    results = processing.run("fast3dcnn:train", {
        "INPUT": paths["top", "cube"], "GROUND_TRUTH": paths["top", "labels"],
        "MORE_INPUTS": [paths["bottom", "cube"]], "MORE_GROUND_TRUTH": [paths["bottom", "labels"]], **FAST,
        "SPLIT": 0,  # paper: every labelled pixel in a set
        "OUTPUT_MODEL": str(folder / "r.f3dcnn"), "OUTPUT_REPORT": str(folder / "r.html")})
    record = json.load(open(results["OUTPUT_JSON"], encoding="utf-8"))
    assert sorted(int(c) for c in record["labelled_pixels"]) == [1, 10, 11, 12, 13, 14]
    top, bottom = (helpers.read(paths[name, "labels"]) for name in ("top", "bottom"))
    assert record["split"]["n_train"] + record["split"]["n_val"] + record["split"]["n_test"] == \
        np.sum(top > 0) + np.sum(bottom > 0)


@pytest.mark.parametrize("changes,message", [
    ({}, r"1 further rasters \(MORE_INPUTS\) need as many label rasters in MORE_GROUND_TRUTH"),
    ({"MORE_GROUND_TRUTH": "labels", "GROUND_TRUTH": "polygons", "CLASS_FIELD": "name"},
     "GROUND_TRUTH is a vector layer, which labels every raster: leave MORE_GROUND_TRUTH empty"),
    ({"MORE_INPUTS": "fewer"}, r"MORE_INPUTS.*'fewer' has 204 bands but INPUT has 224"),
], ids=["label_rasters_missing", "vector_and_label_rasters", "other_band_count"])
def test_rasters_and_labels_that_do_not_pair_are_refused(halves, changes, message):
    folder, paths = halves
    fewer = str(folder / "fewer.tif")
    gdal.Translate(fewer, paths["bottom", "cube"], bandList=list(range(1, 205)))
    values = {"labels": [paths["bottom", "labels"]], "polygons": paths["polygons"], "fewer": [fewer]}
    parameters = {"INPUT": paths["top", "cube"], "GROUND_TRUTH": paths["top", "labels"],
                  "MORE_INPUTS": [paths["bottom", "cube"]], **FAST, "OUTPUT_MODEL": str(folder / "x.f3dcnn"),
                  "OUTPUT_REPORT": str(folder / "x.html")}
    parameters.update({key: values.get(value, value) for key, value in changes.items()})
    if "MORE_GROUND_TRUTH" not in changes and changes.get("MORE_INPUTS") == "fewer":
        parameters["MORE_GROUND_TRUTH"] = [paths["bottom", "labels"]]
    with pytest.raises(QgsProcessingException, match=message):
        processing.run("fast3dcnn:train", parameters)


@pytest.mark.slow
def test_a_raster_the_ground_truth_misses_is_unlabelled_ground_for_the_pool(halves):
    folder, paths = halves
    # The bottom half moved 10 km east, where no polygon lies: ground a map will cover, with no label.
    elsewhere = str(helpers.georeferenced_copy(paths["bottom", "cube"], folder / "elsewhere.tif",
                                               geotransform=(630000.0, 3.7, 0.0, 4059852.0, 0.0, -3.7)))
    feedback = helpers.Recorded()
    results = processing.run("fast3dcnn:train", {
        "INPUT": paths["top", "cube"], "MORE_INPUTS": [elsewhere], "GROUND_TRUTH": paths["polygons"],
        "CLASS_FIELD": "name", **FAST, "COTRAINING": 1,  # on
        "OUTPUT_MODEL": str(folder / "u.f3dcnn"), "OUTPUT_REPORT": str(folder / "u.html")}, feedback=feedback)
    assert any("labels none of its pixels: it is read as unlabelled ground" in line for line in feedback.lines)
    record = json.load(open(results["OUTPUT_JSON"], encoding="utf-8"))
    top = helpers.read(paths["top", "labels"])
    assert sum(record["labelled_pixels"].values()) == np.sum(top > 0)
    # The pool co-training labels from reaches past the top raster's 86 x 40 pixels: into the other one.
    assert record["cotraining"]["n_pool"] > 86 * 40
