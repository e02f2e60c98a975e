"""The built zip as a user gets it: unpacked into a clean QGIS profile, enabled and run with
qgis_process.bin (a separate QGIS process, as in the demo), on the shipped Salinas-A scene."""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile

import numpy as np
import pytest
from helpers import georeferenced_copy, label_polygons, read
from osgeo import gdal
from qgis.core import QgsMapRendererCustomPainterJob, QgsMapSettings, QgsRasterLayer
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor, QImage, QPainter

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QGIS_PROCESS = "/usr/bin/qgis_process.bin"
ALGORITHMS = ["fast3dcnn:assess", "fast3dcnn:classify", "fast3dcnn:importmat", "fast3dcnn:modelinfo",
              "fast3dcnn:suggest", "fast3dcnn:train"]

# The qgis_process path is part of the suite that `make test-debian-unstable` runs (pytest -m debian_unstable).
pytestmark = [pytest.mark.skipif(not os.path.exists(QGIS_PROCESS), reason="qgis_process.bin is not installed"),
              pytest.mark.debian_unstable]


@pytest.fixture(scope="module")
def plugin_zip(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "package.py"), "--output", str(folder)],
                   check=True, capture_output=True)
    (zip_path,) = folder.iterdir()
    return zip_path


@pytest.fixture(scope="module")
def profile(plugin_zip, tmp_path_factory):
    """A fresh QGIS configuration folder with the zip unpacked as the plugin repository installs it,
    and the environment qgis_process runs with (the venv's packages visible to QGIS's Python)."""
    root = tmp_path_factory.mktemp("qgis-profile")
    plugins = root / "profiles" / "default" / "python" / "plugins"
    plugins.mkdir(parents=True)
    with zipfile.ZipFile(plugin_zip) as archive:
        archive.extractall(plugins)
    env = dict(os.environ, QGIS_CUSTOM_CONFIG_PATH=str(root), QT_QPA_PLATFORM="offscreen",
               TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=sysconfig.get_paths()["purelib"])
    qgis_process(env, "plugins", "enable", "fast3dcnn_qgis")
    return env


#: What each successful qgis_process run printed on stderr.
STDERR = []


def qgis_process(env, *arguments, timeout=600):
    done = subprocess.run([QGIS_PROCESS, *arguments], env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"qgis_process {' '.join(arguments)} failed:\n{done.stdout}\n{done.stderr[-3000:]}"
    STDERR.append(done.stderr)
    return done.stdout


def run_json(env, algorithm, **parameters):
    """Runs ``algorithm`` with --json; stdout must be one JSON document and nothing else."""
    stdout = qgis_process(env, "--json", "run", algorithm, "--",
                          *(f"{key}={value}" for key, value in parameters.items()))
    return json.loads(stdout)


def test_zip_holds_one_plugin_folder_without_tests_or_caches(plugin_zip):
    with open(os.path.join(ROOT, "metadata.txt"), encoding="utf-8") as stream:
        version = next(line.split("=", 1)[1].strip() for line in stream if line.startswith("version="))
    assert plugin_zip.name == f"fast3dcnn_qgis-{version}.zip"
    names = zipfile.ZipFile(plugin_zip).namelist()
    assert {name.split("/")[0] for name in names} == {"fast3dcnn_qgis"}
    for required in ("metadata.txt", "__init__.py", "provider.py", "LICENSE", "core/__init__.py",
                     "core/network.py", "resources/icon.svg", "algorithms/train.py", "algorithms/assess.py", "reporting/report.py"):
        assert f"fast3dcnn_qgis/{required}" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or "/tests/" in n or "/." in n]
    licence = zipfile.ZipFile(plugin_zip).read("fast3dcnn_qgis/LICENSE").decode()
    assert "GNU GENERAL PUBLIC LICENSE" in licence and "Version 2, June 1991" in licence


@pytest.mark.slow
def test_enabled_plugin_lists_its_algorithms(profile):
    listing = json.loads(qgis_process(profile, "--json", "list"))
    provider = listing["providers"]["fast3dcnn"]
    assert provider["name"] == "Fast 3D CNN (hyperspectral)"
    assert sorted(provider["algorithms"]) == ALGORITHMS


@pytest.fixture(scope="module")
def trained_and_classified(profile, salinas, tmp_path_factory):
    folder = tmp_path_factory.mktemp("qgis_process")
    inputs = folder / "inputs"
    inputs.mkdir()
    cube, labels = (shutil.copy(path, inputs / path.name) for path in salinas)
    STDERR.clear()
    train = run_json(profile, "fast3dcnn:train", INPUT=cube, GROUND_TRUTH=labels, BANDS="108-112,154-167,224",
                     EPOCHS=2, WINDOW_SIZE=9, OUTPUT_MODEL=folder / "salinas_a.f3dcnn",
                     OUTPUT_REPORT=folder / "report.html")
    classify = run_json(profile, "fast3dcnn:classify", INPUT=cube, MODEL=train["results"]["OUTPUT_MODEL"],
                        OUTPUT=folder / "classes.tif")
    assess = run_json(profile, "fast3dcnn:assess", INPUT=classify["results"]["OUTPUT"], REFERENCE=labels,
                      OUTPUT_REPORT=folder / "assess.html")
    return train, classify, assess, inputs


@pytest.mark.slow
def test_no_gdal_error_about_what_the_plugin_writes(trained_and_classified):
    """The shipped scene has no georeferencing, and GDAL reports an error each time a raster without
    any is opened for display. qgis_process opens each run's input rasters itself, before the plugin
    runs (its check of each parameter), so such lines name inputs; the maps the plugin writes (under
    temporary names, then renamed) and styles raise none."""
    _, classify, _, inputs = trained_and_classified
    opened_by_qgis_process = [str(inputs / "salinas_a.tif"), str(inputs / "salinas_a_gt.tif"),
                              classify["results"]["OUTPUT"]]  # assess's INPUT
    errors = [line for text in STDERR for line in text.splitlines() if "Unable to compute a transformation" in line]
    assert len(STDERR) == 3 and errors
    assert all(any(f"for {path}." in line for path in opened_by_qgis_process) for line in errors), "\n".join(errors)


@pytest.mark.slow
def test_with_gdal_pam_off_nothing_is_written_beside_the_inputs(profile, trained_and_classified, tmp_path):
    """The statistics QGIS computes for the input layers it opens go to .aux.xml files beside them.
    qgis_process opens them before the plugin runs; with GDAL_PAM_ENABLED=NO for the process none is
    written, and the class map still gets its category names (the plugin turns PAM on for its outputs)."""
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    cube = shutil.copy(trained_and_classified[3] / "salinas_a.tif", inputs / "salinas_a.tif")
    classify = run_json(dict(profile, GDAL_PAM_ENABLED="NO"), "fast3dcnn:classify", INPUT=cube,
                        MODEL=trained_and_classified[0]["results"]["OUTPUT_MODEL"], OUTPUT=tmp_path / "map.tif")
    assert os.listdir(inputs) == ["salinas_a.tif"]
    with open(classify["results"]["OUTPUT"] + ".aux.xml", encoding="utf-8") as stream:
        assert "<Category>unclassified</Category>" in stream.read()


@pytest.mark.slow
def test_train_classify_and_assess_through_qgis_process(trained_and_classified, salinas):
    train, classify, assess, _ = trained_and_classified
    results = train["results"]
    assert train["algorithm_details"]["id"] == "fast3dcnn:train"
    for key in ("OUTPUT_MODEL", "OUTPUT_REPORT", "OUTPUT_JSON"):
        assert os.path.getsize(results[key]) > 0
    figures = json.load(open(results["OUTPUT_JSON"], encoding="utf-8"))
    assert figures["accuracy"]["overall_accuracy"] == pytest.approx(results["OVERALL_ACCURACY"])
    assert results["OVERALL_ACCURACY"] > 0.5  # six classes; two epochs already learn most of them
    # The default split holds ground out, so the map is fused with the model's forest: classify walks its
    # trees inside qgis_process (scikit-learn's SVM crashes QGIS 3.44 there; its trees must not).
    assert figures["fusion"]["trees"] == 100
    # Salinas-A's fields are labelled as areas: the map is smoothed, in the report's figures and the map alike.
    assert figures["smoothing"]["radius"] > 0
    classes = gdal.Open(classify["results"]["OUTPUT"]).ReadAsArray()
    reference = gdal.Open(str(salinas[1])).ReadAsArray()
    assert classes.shape == reference.shape
    assert set(np.unique(classes)) <= {1, 10, 11, 12, 13, 14}
    assert np.mean(classes[reference > 0] == reference[reference > 0]) > 0.5
    assert assess["results"]["OVERALL_ACCURACY"] == pytest.approx(np.mean(classes[reference > 0] ==
                                                                           reference[reference > 0]))
    # Where TensorFlow has no release (Python 3.14), Keras runs on JAX, and the report says so.
    backend = "tensorflow" if importlib.util.find_spec("tensorflow") else "jax"
    assert figures["versions"]["keras_backend"] == backend
    assert ("Keras ran on JAX" in open(results["OUTPUT_REPORT"], encoding="utf-8").read()) == (backend == "jax")


@pytest.mark.slow
def test_shipped_processing_model_trains_classifies_and_assesses(profile, salinas, tmp_path):
    """The model in resources/models, run from the installed plugin as `qgis_process run <file>.model3`,
    chains the three algorithms: its inputs reach each step and the assessment scores the map it made."""
    model = os.path.join(profile["QGIS_CUSTOM_CONFIG_PATH"], "profiles", "default", "python", "plugins",
                         "fast3dcnn_qgis", "resources", "models", "train_classify_assess.model3")
    cube, labels = (georeferenced_copy(path, tmp_path / path.name) for path in salinas)
    polygons = label_polygons(labels, tmp_path / "polygons.gpkg")
    run = run_json(profile, model, raster=cube, ground_truth=polygons, class_field="class_id", reference=labels,
                   window=9, epochs=2, **{"train:model": tmp_path / "model.f3dcnn",
                                          "train:training_report": tmp_path / "training.html",
                                          "classify:class_map": tmp_path / "map.tif",
                                          "assess:assessment_report": tmp_path / "assessment.html"})
    results = run["results"]
    training = json.load(open(tmp_path / "training.json", encoding="utf-8"))
    assert (training["settings"]["window"], training["settings"]["epochs"]) == (9, 2)
    classes, reference = read(results["classify:class_map"]), read(labels)
    labelled = reference > 0
    assert set(np.unique(classes)) <= {1, 10, 11, 12, 13, 14}
    assessment = json.load(open(tmp_path / "assessment.json", encoding="utf-8"))["accuracy"]
    assert assessment["overall_accuracy"] == pytest.approx(np.mean(classes[labelled] == reference[labelled]))
    assert assessment["overall_accuracy"] > 0.5
    assert os.path.getsize(results["train:model"]) > 0 and results["assess:assessment_report"].endswith(".html")


@pytest.mark.slow
def test_class_map_renders_with_its_default_style(trained_and_classified, tmp_path):
    """Opened like a user opens it (the .qml beside it is the default style), every pixel shows
    its class's colour from the map's colour table."""
    path = trained_and_classified[1]["results"]["OUTPUT"]
    layer = QgsRasterLayer(path, "classes")
    assert layer.isValid() and layer.renderer().type() == "paletted"
    dataset = gdal.Open(path)
    band = dataset.GetRasterBand(1)
    classes = band.ReadAsArray()
    table = band.GetRasterColorTable()
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(layer.crs())
    settings.setExtent(layer.extent())
    settings.setOutputSize(QSize(classes.shape[1], classes.shape[0]))
    settings.setBackgroundColor(QColor(255, 255, 255))
    image = QImage(settings.outputSize(), QImage.Format_ARGB32)
    image.fill(QColor(255, 255, 255))
    painter = QPainter(image)
    job = QgsMapRendererCustomPainterJob(settings, painter)
    job.start()
    job.waitForFinished()
    painter.end()
    png = tmp_path / "classes.png"
    assert image.save(str(png)) and os.path.getsize(png) > 0

    rendered = QImage(str(png))
    for class_id in np.unique(classes):
        expected = QColor(*table.GetColorEntry(int(class_id))[:3]).name()
        rows, cols = np.nonzero(classes == class_id)
        colours = {rendered.pixelColor(int(c), int(r)).name() for r, c in zip(rows[::7], cols[::7])}
        assert colours == {expected}, f"class {class_id}"
