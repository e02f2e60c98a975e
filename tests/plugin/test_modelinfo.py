"""``fast3dcnn:modelinfo`` on a model trained on the shipped scene: the page and JSON say what the
file holds, identify it by checksum, and the model is read without Keras or scikit-learn."""
import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import processing
import pytest
from osgeo import gdal
from qgis.core import QgsProcessingException

from fast3dcnn_qgis.core.blocks import array_blocks
from fast3dcnn_qgis.core.classes import ClassTable
from fast3dcnn_qgis.core.modelfile import save_classifier
from fast3dcnn_qgis.core.settings import TrainingConfig, TrainingSettings
from fast3dcnn_qgis.core.workflow import Scene, train_classifier

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def model(salinas, tmp_path_factory):
    cube = gdal.Open(str(salinas[0])).ReadAsArray().transpose(1, 2, 0)
    labels = gdal.Open(str(salinas[1])).ReadAsArray()
    settings = TrainingSettings(exclude_bands="108-112,154-167,224", training=TrainingConfig(window=9, epochs=1))
    scene = Scene(lambda: array_blocks(np.ascontiguousarray(cube), 32), *cube.shape, labels,
                  classes=ClassTable.from_ids([1, 10], {1: "Brocoli <green>"}))
    classifier = train_classifier(scene, settings)
    path = tmp_path_factory.mktemp("model") / "salinas.model"
    save_classifier(classifier, str(path))
    return path, classifier


@pytest.mark.slow
def test_page_and_json_describe_the_model_and_its_training(model, tmp_path):
    path, classifier = model
    result = processing.run("fast3dcnn:modelinfo", {"MODEL": str(path), "OUTPUT_REPORT": str(tmp_path / "info.html")})
    info = json.load(open(result["OUTPUT_JSON"], encoding="utf-8"))
    assert info["file"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert info["file"]["bytes"] == path.stat().st_size
    assert (info["window"], info["components"], info["input_band_count"]) == (9, 20, 224)
    assert info["kept_bands"] == "1-107,113-153,168-223"
    assert info["parameters"] == classifier.network.count_params()
    assert [(c["id"], c["name"]) for c in info["classes"]][:2] == [(1, "Brocoli <green>"), (10, None)]
    assert info["record"]["accuracy"] == json.loads(json.dumps(classifier.record.to_json()))["accuracy"]
    page = open(result["OUTPUT_REPORT"], encoding="utf-8").read()
    assert info["file"]["sha256"] in page and "Brocoli &lt;green&gt;" in page and "<green>" not in page
    for section in ("Model", "Classes", "Band wavelengths", "Accuracy", "Against plain pixel classifiers",
                    "The map: the network fused with a random forest and an SVM", "The map: smoothed over",
                    "Settings"):
        assert f"<h2>{section}" in page, section
    # The default split holds ground out: the model's maps are fused with its forest and SVM (format 6) and
    # smoothed over the radius Salinas-A's fields agree over, and it says so.
    assert info["format_version"] == 6 and info["fusion"]["trees"] == classifier.forest.n_trees == 100
    vectors = classifier.svm.n_support_vectors
    assert info["fusion"]["support_vectors"] == vectors > 0
    assert f"the network fused with a random forest of 100 trees and an SVM of {vectors} support vectors" in page
    radius = classifier.smoothing_radius
    assert info["smoothing"]["radius"] == radius > 0
    assert "the network fused with a random forest of 100 trees" in page and f", smoothed over {radius} pixels" in page
    # and its classes weighted against their training shares (format 5).
    assert info["balance"]["weights"] == classifier.record.balance["weights"]
    assert ", its classes weighted against their training shares" in page
    assert "<h2>The map: classes weighted against their training shares</h2>" in page


def test_a_damaged_model_is_refused_by_parameter(tmp_path):
    damaged = tmp_path / "damaged.f3dcnn"
    damaged.write_bytes(b"PK\x03\x04 not really a model")
    with pytest.raises(QgsProcessingException, match="MODEL: .*damaged.f3dcnn' is not a Fast 3D CNN model file"):
        processing.run("fast3dcnn:modelinfo", {"MODEL": str(damaged), "OUTPUT_REPORT": str(tmp_path / "i.html")})
    assert not os.path.exists(tmp_path / "i.html")


@pytest.mark.slow
def test_the_model_is_described_without_keras_or_scikit_learn(model):
    script = ("import sys; from fast3dcnn_qgis.core.modelfile import describe_model; "
              f"info = describe_model({str(model[0])!r}); "
              "print(info['window'], [m for m in ('keras', 'tensorflow', 'sklearn') if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert done.stdout.split() == ["9", "[]"], done.stderr[-2000:]
