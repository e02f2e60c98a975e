"""The train and classify algorithms end to end through the Processing API, on Salinas-A."""
import json
import os
import re

import numpy as np
import processing
import pytest
from osgeo import gdal
from qgis.core import (QgsMapRendererSequentialJob, QgsMapSettings, QgsProcessingException,
                       QgsProcessingFeedback, QgsRasterLayer)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor

import helpers
from fast3dcnn_qgis.core.cotraining import ROUNDS
from fast3dcnn_qgis.core.modelfile import read_header
from fast3dcnn_qgis.reporting.report import the_map

#: The paper's water-absorption bands of the 224-band AVIRIS cube.
WATER_BANDS = "108-112,154-167,224"
FAST = {"WINDOW_SIZE": 9, "COMPONENTS": 20, "BANDS": WATER_BANDS, "SEED": 1}


@pytest.fixture(scope="module")
def scene(salinas, tmp_path_factory):
    folder = tmp_path_factory.mktemp("scene")
    cube = helpers.georeferenced_copy(salinas[0], folder / "salinas_utm.tif")
    labels = helpers.georeferenced_copy(salinas[1], folder / "labels_utm.tif")
    return cube, labels


@pytest.fixture(scope="module")
def trained(scene, tmp_path_factory):
    folder = tmp_path_factory.mktemp("trained")
    cube, labels = scene
    results = processing.run("fast3dcnn:train", {
        "INPUT": str(cube), "GROUND_TRUTH": str(labels), "EPOCHS": 3, **FAST,
        "OUTPUT_MODEL": str(folder / "salinas.f3dcnn"), "OUTPUT_REPORT": str(folder / "report.html"),
        "OUTPUT": str(folder / "map.tif"), "OUTPUT_CONFIDENCE": str(folder / "confidence.tif")})
    return folder, results


def labelled_accuracy(map_path, labels_path):
    predicted, reference = helpers.read(map_path), helpers.read(labels_path)
    return np.mean(predicted[reference > 0] == reference[reference > 0])


@pytest.mark.slow
def test_training_writes_model_report_and_figures(trained):
    folder, results = trained
    assert results["OUTPUT_MODEL"] == str(folder / "salinas.f3dcnn") and os.path.getsize(results["OUTPUT_MODEL"])
    assert results["OUTPUT_JSON"] == str(folder / "report.json")
    figures = json.loads(open(results["OUTPUT_JSON"]).read())
    assert figures["accuracy"]["overall_accuracy"] == pytest.approx(results["OVERALL_ACCURACY"])
    assert figures["inputs"]["ground_truth"].endswith("labels_utm.tif")
    # The SVM baseline ran (in a child process) on the same test pixels.
    assert figures["baseline"]["n_test"] == figures["accuracy"]["n_pixels"]
    assert figures["baseline"]["accuracy"]["overall_accuracy"] > 0.7
    # Six classes, the largest holding 29% of the pixels: three epochs are well above chance.
    assert results["OVERALL_ACCURACY"] > 0.7 and results["KAPPA"] > 0.6
    # The default split holds an area of each class out of a label raster, and the default recipe then
    # trains on the validation pixels too and co-trains with the SVM (a round of 3 epochs: the first
    # network's when it has fewer than core.cotraining.MIN_ROUND_EPOCHS).
    assert figures["split"]["method"] == "disjoint" and figures["split"]["n_val"] == 0
    assert [r["epochs"] for r in figures["cotraining"]["rounds"]] == [3] * ROUNDS
    assert figures["stop_reason"] == "ran all 3 epochs: there are no validation pixels to tell when to stop"
    assert figures["model"]["training_dtype"] in ("float32", "mixed_bfloat16")
    assert "Overall accuracy" in open(results["OUTPUT_REPORT"]).read()
    assert "Training ran all 3 epochs" in open(results["OUTPUT_REPORT"]).read()
    assert not [name for name in os.listdir(folder) if ".part" in name or name.startswith(".")]


@pytest.mark.slow
def test_training_stops_early_and_keeps_the_best_epoch_in_float32_when_asked(scene, tmp_path):
    results = processing.run("fast3dcnn:train", {**train_parameters(scene, tmp_path, EPOCHS=40), "PATIENCE": 2,
                                                 "PRECISION": 1, "BASELINE": False, "SPLIT": 0})  # float32, paper
    figures = json.loads(open(results["OUTPUT_JSON"]).read())
    epochs_run, best = len(figures["history"]["loss"]), figures["best_epoch"]
    scores = figures["history"]["val_accuracy"]
    # Salinas-A's validation pixels are (nearly) all right within a few epochs, so training stops long
    # before 40, and the weights kept are those of the best epoch.
    assert epochs_run < 40 and scores[best] == max(score for score in scores if score is not None)
    stopped = f"stopped after epoch {epochs_run} of at most 40: "
    if scores[-1] == 1.0:  # every validation pixel right: no later epoch can do better
        assert best == epochs_run - 1
        assert figures["stop_reason"] == stopped + "every validation pixel was classified correctly"
    else:  # no better epoch for PATIENCE epochs (which one ends first depends on the arithmetic)
        assert epochs_run - 1 - best >= 2 and scores[best] > 0.9
        assert figures["stop_reason"].startswith(stopped + f"the validation accuracy had not improved for 2 "
                                                 f"epochs since epoch {best + 1} ")
    assert figures["model"]["training_dtype"] == "float32" and figures["settings"]["patience"] == 2


@pytest.mark.slow
def test_class_map_is_a_styled_geotiff_on_the_input_grid(trained, scene):
    folder, results = trained
    cube, labels = scene
    dataset = gdal.Open(results["OUTPUT"])
    band = dataset.GetRasterBand(1)
    assert band.DataType == gdal.GDT_Byte and band.GetNoDataValue() == 0
    source = gdal.Open(str(cube))
    assert dataset.GetGeoTransform() == source.GetGeoTransform()
    assert dataset.GetProjection() == source.GetProjection()
    ids = sorted(helpers.NAMES)
    assert set(np.unique(band.ReadAsArray())) <= set(ids)
    table = band.GetRasterColorTable()
    assert len({table.GetColorEntry(i) for i in ids}) == len(ids)
    assert [band.GetRasterCategoryNames()[i] for i in ids] == [helpers.NAMES[i] for i in ids]  # the labels' names
    assert os.path.exists(folder / "map.qml")
    assert labelled_accuracy(results["OUTPUT"], labels) > 0.7
    confidence = gdal.Open(results["OUTPUT_CONFIDENCE"]).ReadAsArray()
    assert confidence.dtype == np.float32 and 1 / 6 <= confidence.min() and confidence.max() <= 1


@pytest.mark.slow
def test_class_map_renders_in_its_class_colours(trained):
    layer = QgsRasterLayer(trained[1]["OUTPUT"], "map")
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(layer.crs())
    settings.setExtent(layer.extent())
    settings.setOutputSize(QSize(86, 83))
    settings.setBackgroundColor(QColor(255, 255, 255))
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    rendered = {image.pixelColor(x, y).name() for x in range(0, 86, 3) for y in range(0, 83, 3)}
    palette = {c.color.name() for c in layer.renderer().classes()}
    assert len(rendered & palette) >= 5


@pytest.mark.slow
def test_classify_reproduces_the_training_map(trained, scene, tmp_path):
    folder, results = trained
    out = processing.run("fast3dcnn:classify", {"INPUT": str(scene[0]), "MODEL": results["OUTPUT_MODEL"],
                                                "OUTPUT": str(tmp_path / "again.tif")})
    np.testing.assert_array_equal(helpers.read(out["OUTPUT"]), helpers.read(results["OUTPUT"]))
    assert os.path.exists(tmp_path / "again.qml")
    assert "OUTPUT_CONFIDENCE" not in out


@pytest.mark.slow
def test_classify_in_float32_or_bfloat16_gives_nearly_the_same_map_and_says_which(trained, scene, tmp_path):
    folder, results = trained
    maps = {}
    for index, precision in enumerate(("float32", "mixed_bfloat16"), start=1):
        messages, feedback = [], QgsProcessingFeedback()
        feedback.pushInfo = messages.append
        out = processing.run("fast3dcnn:classify", {"INPUT": str(scene[0]), "MODEL": results["OUTPUT_MODEL"],
                                                    "OUTPUT": str(tmp_path / f"{precision}.tif"), "PRECISION": index},
                             feedback=feedback)
        maps[precision] = helpers.read(out["OUTPUT"])
        assert any(m.startswith(f"Arithmetic: {precision.replace('mixed_', '')}") for m in messages), messages
    # bfloat16 keeps 8 bits of mantissa: a few pixels near a tie between two classes may flip, no more.
    assert np.mean(maps["float32"] != maps["mixed_bfloat16"]) < 0.01
    assert (maps["float32"] > 0).all() and (maps["mixed_bfloat16"] > 0).all()


@pytest.mark.slow
def test_probabilities_and_minimum_confidence(trained, scene, tmp_path):
    folder, results = trained
    messages, feedback = [], QgsProcessingFeedback()
    feedback.pushInfo = messages.append
    out = processing.run("fast3dcnn:classify", {
        "INPUT": str(scene[0]), "MODEL": results["OUTPUT_MODEL"], "OUTPUT": str(tmp_path / "sure.tif"),
        "MIN_CONFIDENCE": 0.9, "OUTPUT_PROBABILITIES": str(tmp_path / "probabilities.tif")}, feedback=feedback)
    dataset = gdal.Open(out["OUTPUT_PROBABILITIES"])
    bands = [dataset.GetRasterBand(i + 1) for i in range(dataset.RasterCount)]
    assert [band.GetDescription() for band in bands] == [helpers.NAMES[i] for i in (1, 10, 11, 12, 13, 14)]
    assert all(band.GetNoDataValue() == -1 for band in bands)
    probabilities = dataset.ReadAsArray().transpose(1, 2, 0)
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1, atol=1e-4)  # Salinas-A has no invalid pixel
    full, sure = helpers.read(results["OUTPUT"]), helpers.read(out["OUTPUT"])
    np.testing.assert_array_equal(np.array([1, 10, 11, 12, 13, 14])[probabilities.argmax(axis=-1)], full)
    unsure = probabilities.max(axis=-1) < 0.9
    assert 0 < unsure.sum() < unsure.size  # three epochs: some pixels are not sure yet
    np.testing.assert_array_equal(sure, np.where(unsure, 0, full))
    assert f"{unsure.sum():,} valid pixels had a top probability below 0.9 (MIN_CONFIDENCE)" in " ".join(messages)
    # The log says how the model makes its map, as modelinfo says it from the same header.
    steps = the_map(read_header(results["OUTPUT_MODEL"]))
    assert any(m.startswith("Classifying ") and m.endswith(f"; the map: {steps}") for m in messages), messages


@pytest.mark.slow
def test_vector_ground_truth_in_another_crs_trains_with_its_names(scene, tmp_path):
    polygons = helpers.label_polygons(scene[1], tmp_path / "labels_wgs84.gpkg")
    results = processing.run("fast3dcnn:train", {
        "INPUT": str(scene[0]), "GROUND_TRUTH": f"{polygons}|layername=ground_truth", "CLASS_FIELD": "name",
        "EPOCHS": 2, **FAST, "OUTPUT_MODEL": str(tmp_path / "m.f3dcnn"),
        "OUTPUT_REPORT": str(tmp_path / "r.html")})
    assert results["OVERALL_ACCURACY"] > 0.5
    names = sorted(helpers.NAMES.values())
    assert [(c["id"], c["name"]) for c in read_header(results["OUTPUT_MODEL"])["classes"]] == list(enumerate(names, 1))


def run_failing(algorithm, parameters, feedback=None):
    with pytest.raises(QgsProcessingException) as error:
        processing.run(algorithm, parameters, feedback=feedback)
    return str(error.value)


def train_parameters(scene, tmp_path, **changes):
    """The parameters of a quick training, co-training off (the default's three more trainings)."""
    return {"INPUT": str(scene[0]), "GROUND_TRUTH": str(scene[1]), "EPOCHS": 1, **FAST, "COTRAINING": 2,
            "OUTPUT_MODEL": str(tmp_path / "m.f3dcnn"), "OUTPUT_REPORT": str(tmp_path / "r.html"), **changes}


@pytest.mark.parametrize("changes, expected", [
    ({"WINDOW_SIZE": 10}, r"WINDOW_SIZE.*10.*odd.*9 or 11"),
    ({"BANDS": "100-300"}, r"BANDS.*100-300.*outside the raster's bands 1-224"),
    ({"COMPONENTS": 30, "BANDS": "1-200"}, r"COMPONENTS.*30.*only 24 bands"),
    ({"SPLIT": 1}, r"SPLIT_VALUE.*fraction.*between 0 and 1"),
])
def test_bad_settings_are_refused_before_running(scene, tmp_path, changes, expected):
    message = run_failing("fast3dcnn:train", train_parameters(scene, tmp_path, **changes))
    assert re.search(expected, message, re.S), message
    assert os.listdir(tmp_path) == []


def test_vector_ground_truth_without_class_field_is_refused(scene, tmp_path):
    polygons = helpers.label_polygons(scene[1], tmp_path / "labels.gpkg")
    message = run_failing("fast3dcnn:train", train_parameters(
        scene, tmp_path, GROUND_TRUTH=f"{polygons}|layername=ground_truth"))
    assert "CLASS_FIELD" in message and "class_id, name" in message


def test_ground_truth_with_one_class_is_refused(scene, tmp_path):
    single = helpers.write_labels(tmp_path / "one.tif", np.where(helpers.read(scene[1]) == 12, 12, 0), scene[1])
    message = run_failing("fast3dcnn:train", train_parameters(scene, tmp_path, GROUND_TRUTH=str(single)))
    assert "only 1 class" in message and "at least 2" in message


@pytest.mark.slow
def test_classifying_a_raster_with_other_bands_is_refused(trained, scene, tmp_path):
    fewer = tmp_path / "fewer.tif"
    gdal.Translate(str(fewer), str(scene[0]), bandList=list(range(1, 201)))
    message = run_failing("fast3dcnn:classify", {"INPUT": str(fewer), "MODEL": trained[1]["OUTPUT_MODEL"],
                                                 "OUTPUT": str(tmp_path / "map.tif")})
    assert "has 200 bands but the model was trained on a raster with 224 bands" in message
    assert not (tmp_path / "map.tif").exists()


@pytest.mark.slow
def test_cancel_stops_training_and_leaves_no_output(scene, tmp_path):
    feedback = QgsProcessingFeedback()
    feedback.progressChanged.connect(lambda percent: percent >= 25 and feedback.cancel())
    parameters = train_parameters(scene, tmp_path, EPOCHS=20, OUTPUT=str(tmp_path / "map.tif"))
    message = run_failing("fast3dcnn:train", parameters, feedback)
    assert "Cancelled" in message
    assert os.listdir(tmp_path) == []


@pytest.mark.slow
def test_class_map_loads_into_the_project_coloured_and_named(trained, scene):
    from qgis.core import QgsPalettedRasterRenderer, QgsProject

    results = processing.runAndLoadResults("fast3dcnn:classify", {
        "INPUT": str(scene[0]), "MODEL": trained[1]["OUTPUT_MODEL"], "OUTPUT": "TEMPORARY_OUTPUT"})
    loaded = [layer for layer in QgsProject.instance().mapLayers().values() if layer.source() == results["OUTPUT"]]
    assert len(loaded) == 1
    layer = loaded[0]
    try:
        assert isinstance(layer.renderer(), QgsPalettedRasterRenderer)
        assert [(c.value, c.label) for c in layer.renderer().classes()] == sorted(helpers.NAMES.items())
    finally:
        QgsProject.instance().removeAllMapLayers()


@pytest.mark.slow
def test_bands_holding_only_nodata_are_excluded_automatically(scene, tmp_path):
    cube = tmp_path / "with_bad_bands.tif"
    gdal.Translate(str(cube), str(scene[0]), outputType=gdal.GDT_Float32, noData=-32768)
    dataset = gdal.Open(str(cube), gdal.GA_Update)
    for band in (1, 2, 30):
        dataset.GetRasterBand(band).Fill(-32768)
    dataset = None
    messages = []
    feedback = QgsProcessingFeedback()
    feedback.pushInfo = messages.append
    results = processing.run("fast3dcnn:train", train_parameters(
        scene, tmp_path, INPUT=str(cube), SPLIT=2, SPLIT_VALUE=50), feedback=feedback)
    assert "Bands 1-2,30 hold only nodata and are excluded automatically" in messages
    header = read_header(results["OUTPUT_MODEL"])
    assert header["record"]["model"]["kept_bands"] == "3-29,31-107,113-153,168-223"
    assert header["record"]["split"]["n_train"] == 6 * 50


@pytest.mark.slow
def test_a_model_saved_under_any_name_classifies_and_other_files_are_named(trained, scene, tmp_path):
    """train writes OUTPUT_MODEL under the name it is given; classify recognises a model by its
    content, not by its extension."""
    import shutil

    renamed = str(shutil.copy(trained[1]["OUTPUT_MODEL"], tmp_path / "berlin.model"))
    results = processing.run("fast3dcnn:classify", {"INPUT": str(scene[0]), "MODEL": renamed,
                                                    "OUTPUT": str(tmp_path / "map.tif")})
    assert np.array_equal(helpers.read(results["OUTPUT"]), helpers.read(str(trained[0] / "map.tif")))
    (tmp_path / "notes.model").write_text("not a model")
    message = run_failing("fast3dcnn:classify", {"INPUT": str(scene[0]), "MODEL": str(tmp_path / "notes.model"),
                                                 "OUTPUT": str(tmp_path / "other.tif")})
    assert "MODEL" in message and "notes.model" in message and "not a Fast 3D CNN model file" in message
