"""Runs of issue 6 beyond single bad inputs: Cancel during each phase, a reduced scene spilled to
disk, and two algorithms at once in background threads, as Processing runs them in QGIS."""
import glob
import os
import threading
import time

import numpy as np
import processing
import pytest
from qgis.core import QgsProcessingContext, QgsProcessingException, QgsProcessingFeedback, QgsProcessingUtils

import helpers
from fast3dcnn_qgis.algorithms import train as train_algorithm
from test_robustness import MATRIX, cut, write_cube

# Co-training off (the default's three more trainings): these tests are not about the recipe.
FAST = {"WINDOW_SIZE": 9, "COMPONENTS": 15, "SEED": 1, "BATCH_SIZE": 32, "COTRAINING": 2}


@pytest.fixture(scope="module")
def scene(salinas, tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs")
    return cut(salinas[0], folder / "cube.tif"), cut(salinas[1], folder / "labels.tif", bands=1)


def train_parameters(scene, out, **more):
    return {"INPUT": str(scene[0]), "GROUND_TRUTH": str(scene[1]), "EPOCHS": 1, **FAST,
            "OUTPUT_MODEL": str(out / "model.f3dcnn"), "OUTPUT_REPORT": str(out / "report.html"), **more}


def run(algorithm, parameters, feedback=None):
    return processing.run(f"fast3dcnn:{algorithm}", parameters, context=QgsProcessingContext(),
                          feedback=feedback or QgsProcessingFeedback())


def spill_files():
    return set(glob.glob(os.path.join(QgsProcessingUtils.tempFolder(), "f3dcnn-cube-*")))


class CancelAt(QgsProcessingFeedback):
    """Presses Cancel once the progress bar reaches ``percent``, and notes when."""

    def __init__(self, percent):
        super().__init__()
        self.percent, self.cancelled_at, self.messages = percent, None, []
        self.progressChanged.connect(self._progress)

    def _progress(self, value):
        if self.cancelled_at is None and value >= self.percent:
            self.cancelled_at = time.monotonic()
            self.cancel()

    def pushInfo(self, text):
        self.messages.append(text)
        super().pushInfo(text)


#: Where Cancel is pressed: the PCA is the first 10% of training's part of the bar (0-75% with a
#: class map), network training 20-95% of it, and the class map 75-97%.
PHASES = {"pca": 0.5, "training": 30, "prediction": 76}


@pytest.mark.parametrize("phase", sorted(PHASES))
@pytest.mark.slow
def test_cancel_stops_quickly_and_keeps_previous_outputs(phase, scene, tmp_path, monkeypatch):
    MATRIX.append(f"cancel:{phase}")
    monkeypatch.setattr(train_algorithm, "SPILL_BYTES", 1)  # a spill file too, which must go as well
    previous = {name: f"previous {name}".encode() for name in ("model.f3dcnn", "report.html", "map.tif")}
    for name, content in previous.items():
        (tmp_path / name).write_bytes(content)
    feedback = CancelAt(PHASES[phase])
    before = spill_files()
    with pytest.raises(QgsProcessingException, match="Cancelled"):
        run("train", train_parameters(scene, tmp_path, EPOCHS=30, OUTPUT=str(tmp_path / "map.tif")), feedback)
    stopped = time.monotonic() - feedback.cancelled_at
    assert stopped < 5, f"took {stopped:.1f} s to stop"
    # Beside them only the training's checkpoints, to resume from (test_package.py resumes a killed run).
    assert sorted(set(os.listdir(tmp_path)) - {".model.f3dcnn.checkpoints"}) == sorted(previous)
    assert all((tmp_path / name).read_bytes() == content for name, content in previous.items())
    assert spill_files() == before


@pytest.mark.slow
def test_spilled_scene_trains_the_same_model(scene, tmp_path, monkeypatch):
    """With a budget of one byte the reduced scene goes to a memory-mapped file, deleted afterwards;
    the model is the one trained in memory."""
    MATRIX.append("large:spill_to_memory_mapped_file")
    in_memory = run("train", train_parameters(scene, tmp_path / "memory"))
    monkeypatch.setattr(train_algorithm, "SPILL_BYTES", 1)
    feedback = CancelAt(101)
    before = spill_files()
    spilled = run("train", train_parameters(scene, tmp_path / "spilled"), feedback)
    assert any("temporary file" in message for message in feedback.messages)
    assert spill_files() == before
    for key in ("OVERALL_ACCURACY", "KAPPA"):
        assert spilled[key] == pytest.approx(in_memory[key])


def test_spill_file_removed_after_an_error(scene, tmp_path, monkeypatch):
    MATRIX.append("large:spill_removed_on_error")
    monkeypatch.setattr(train_algorithm, "SPILL_BYTES", 1)
    zeros = helpers.write_labels(tmp_path / "zeros.tif", np.zeros((40, 40)), scene[0])
    before = spill_files()
    with pytest.raises(QgsProcessingException):
        run("train", train_parameters(scene, tmp_path / "out", GROUND_TRUTH=str(zeros)))
    assert spill_files() == before


@pytest.mark.slow
def test_two_algorithms_at_once_do_not_interfere(scene, tmp_path):
    """A training and a classification in two threads, each with its own context and feedback,
    give what each gives alone."""
    MATRIX.append("threads:train_and_classify_at_once")
    model = run("train", train_parameters(scene, tmp_path / "model"))["OUTPUT_MODEL"]
    alone = run("classify", {"INPUT": str(scene[0]), "MODEL": model, "OUTPUT": str(tmp_path / "alone.tif")})
    results, errors = {}, []

    def in_thread(name, algorithm, parameters):
        try:
            results[name] = run(algorithm, parameters)
        except Exception as error:  # reported by the main thread
            errors.append(error)

    threads = [
        threading.Thread(target=in_thread, args=("train", "train", train_parameters(
            scene, tmp_path / "again", EPOCHS=3, OUTPUT=str(tmp_path / "again" / "map.tif")))),
        threading.Thread(target=in_thread, args=("classify", "classify", {
            "INPUT": str(scene[0]), "MODEL": model, "OUTPUT": str(tmp_path / "together.tif")})),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    assert (helpers.read(results["classify"]["OUTPUT"]) == helpers.read(alone["OUTPUT"])).all()
    assert 0 < results["train"]["OVERALL_ACCURACY"] <= 1
    assert helpers.read(results["train"]["OUTPUT"]).shape == (40, 40)


@pytest.mark.slow
def test_cancel_classification_keeps_previous_map(scene, tmp_path):
    """Cancel between the blocks of a 300 x 300 scene (four prediction blocks)."""
    MATRIX.append("cancel:classify")
    model = run("train", train_parameters(scene, tmp_path / "model"))["OUTPUT_MODEL"]
    tiles = np.tile(helpers.read(scene[0]), (1, 8, 8))[:, :300, :300]
    large = write_cube(tmp_path / "large.tif", tiles, scene[0])
    out = tmp_path / "out"
    out.mkdir()
    (out / "map.tif").write_bytes(b"previous map")
    feedback = CancelAt(20)
    with pytest.raises(QgsProcessingException, match="Cancelled"):
        run("classify", {"INPUT": str(large), "MODEL": model, "OUTPUT": str(out / "map.tif"),
                         "OUTPUT_CONFIDENCE": str(out / "confidence.tif")}, feedback)
    assert time.monotonic() - feedback.cancelled_at < 5
    assert os.listdir(out) == ["map.tif"] and (out / "map.tif").read_bytes() == b"previous map"
