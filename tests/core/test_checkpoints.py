"""A training killed mid-way (SIGKILL, as when QGIS or qgis_process is killed) goes on from its last
checkpoint when run again, and ends in the very model of an uninterrupted run: on the shipped Salinas-A
scene, with the default disjoint split and its co-training round, killed during the round."""
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from fast3dcnn_qgis.core.blocks import array_blocks
from fast3dcnn_qgis.core.checkpoints import Checkpoints
from fast3dcnn_qgis.core.cotraining import ROUNDS
from fast3dcnn_qgis.core.progress import CallbackReporter
from fast3dcnn_qgis.core.settings import TrainingConfig, TrainingSettings
from fast3dcnn_qgis.core.workflow import Scene, train_classifier

from .conftest import DATA, SALINAS_BAD_BANDS

#: Two trainings (the first and the co-training round, ROUNDS) of three epochs, a state every epoch.
EPOCHS, EVERY = 3, 1
#: Progress at which the child kills itself: the round's part of the bar (0.2-0.95 in two parts) 50%
#: done, so during its second epoch, after its first checkpoint.
KILL_AT = 0.2 + 0.75 * 1.5 / (ROUNDS + 1)

CHILD = textwrap.dedent("""
    import os, signal, sys
    from tests.core.test_checkpoints import run

    def kill_past(percent):
        if percent >= 100 * float(sys.argv[2]):
            os.kill(os.getpid(), signal.SIGKILL)

    run(sys.argv[1], kill_past)
""")


def run(folder, on_progress=None, messages=None):
    """Trains on the shipped Salinas-A with checkpoints in ``folder``: the command a user reruns."""
    from osgeo import gdal
    cube = gdal.Open(os.path.join(DATA, "salinas_a.tif")).ReadAsArray().transpose(1, 2, 0)
    labels = gdal.Open(os.path.join(DATA, "salinas_a_gt.tif")).ReadAsArray()
    settings = TrainingSettings(exclude_bands=SALINAS_BAD_BANDS, split="disjoint",
                                training=TrainingConfig(window=9, epochs=EPOCHS, seed=3))
    reporter = CallbackReporter(on_progress, None if messages is None else messages.append)
    return train_classifier(Scene(lambda: array_blocks(cube, 32), *cube.shape, labels), settings, reporter,
                            checkpoints=Checkpoints(folder, every=EVERY))


@pytest.mark.slow
def test_killed_training_resumes_to_the_uninterrupted_model(tmp_path):
    pytest.importorskip("osgeo.gdal")
    root = os.path.join(os.path.dirname(__file__), "..", "..")
    killed = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "states"), str(KILL_AT)], cwd=root,
                            env=dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p)),
                            capture_output=True, text=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert len(os.listdir(tmp_path / "states")) == 2  # the first training's final state, the round's at epoch 2

    messages = []
    resumed = run(str(tmp_path / "states"), messages=messages)
    resumes = [m for m in messages if m.startswith("Resuming")]
    assert [m.split(" (")[0] for m in resumes] == [
        f"Resuming the training from its checkpoint after epoch {EPOCHS}",
        f"Resuming the training from its checkpoint after epoch {EVERY}"], messages
    fresh = []
    uninterrupted = run(str(tmp_path / "fresh"), messages=fresh)
    assert len([m for m in fresh if m.startswith("Checkpoints every")]) == 1, fresh  # once, not per round
    for mine, theirs in zip(resumed.network.get_weights(), uninterrupted.network.get_weights(), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    assert resumed.record.accuracy == uninterrupted.record.accuracy
    assert resumed.record.cotraining["rounds"] == uninterrupted.record.cotraining["rounds"]
    assert resumed.record.history == uninterrupted.record.history


def test_a_state_belongs_to_one_scene_and_one_setting(tmp_path):
    """Another cube or another setting finds no state: nothing stale is ever resumed."""
    cube = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    pixels = (np.array([0, 1]), np.array([2, 0]))
    first = Checkpoints(str(tmp_path)).bind(cube).state_file(pixels, {"epochs": 5})
    assert Checkpoints(str(tmp_path)).bind(cube.copy()).state_file(pixels, {"epochs": 5}).path == first.path
    others = [Checkpoints(str(tmp_path)).bind(cube + 1).state_file(pixels, {"epochs": 5}),
              Checkpoints(str(tmp_path)).bind(cube).state_file(pixels, {"epochs": 6}),
              Checkpoints(str(tmp_path)).bind(cube).state_file((pixels[1], pixels[0]), {"epochs": 5})]
    assert len({first.path, *(other.path for other in others)}) == 4
    first.save({"history": [1.5]}, {"model": [np.ones((2, 2)), np.zeros(3)]})
    meta, arrays = first.load()
    assert meta == {"history": [1.5]} and [a.shape for a in arrays["model"]] == [(2, 2), (3,)]
    assert all(other.load() is None for other in others)
