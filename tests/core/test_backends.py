"""A model trained with Keras on one backend classifies identically with Keras on the other.

QGIS on Python 3.14 has no TensorFlow, so the installer gives it Keras on JAX; model files travel
between such a QGIS and one with TensorFlow. Each step runs in its own process with its backend
set before Keras is imported, as the plugin does: train and save on one backend, then load and
classify the same scene on both, and compare labels and every class probability.
"""
import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

from .conftest import SALINAS_BAD_BANDS

# Trains a model on each backend, each in a subprocess Python.
pytestmark = pytest.mark.slow

ROOT = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir)
BACKENDS = ("tensorflow", "jax")

SCRIPT = """
import sys
import numpy as np
from fast3dcnn_qgis.core.blocks import Block, array_blocks
from fast3dcnn_qgis.core.fully_conv import fully_convolutional, tiled_probabilities
from fast3dcnn_qgis.core.modelfile import load_classifier, save_classifier
from fast3dcnn_qgis.core.prediction import reduce_block
from fast3dcnn_qgis.core.settings import TrainingConfig, TrainingSettings
from fast3dcnn_qgis.core.workflow import Scene, train_classifier

step, folder, bad_bands = sys.argv[1:4]
cube, labels = np.load(folder + "/cube.npy"), np.load(folder + "/labels.npy")
if step == "train":
    # one network, no baselines: what travels between backends is the network, and on JAX every
    # co-training round and new input shape would compile anew
    settings = TrainingSettings(exclude_bands=bad_bands, split="paper", baseline=False,
                                training=TrainingConfig(window=9, epochs=2, seed=3))
    save_classifier(train_classifier(Scene(lambda: array_blocks(cube, 32), *cube.shape, labels), settings),
                    folder + "/model.f3dcnn")
classifier = load_classifier(folder + "/model.f3dcnn")
padded, valid = reduce_block(classifier, Block(0, 0, cube))
probabilities = tiled_probabilities(fully_convolutional(classifier.network), padded, classifier.window)
np.save(folder + "/" + step + ".npy", np.where(valid[..., None], probabilities, -1))
print("BACKEND", classifier.record.versions["keras_backend"])
"""


def run(step, backend, folder):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3", JAX_PLATFORMS="cpu",
               PYTHONPATH=os.path.abspath(ROOT))
    done = subprocess.run([sys.executable, "-c", SCRIPT, step, str(folder), SALINAS_BAD_BANDS],
                          capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.skipif(not all(importlib.util.find_spec(b) for b in BACKENDS), reason="needs TensorFlow and JAX")
@pytest.mark.parametrize("trained_on", BACKENDS)
def test_a_model_classifies_the_same_on_both_backends(trained_on, salinas, tmp_path):
    cube, labels = salinas
    np.save(tmp_path / "cube.npy", cube)
    np.save(tmp_path / "labels.npy", labels)
    other = next(b for b in BACKENDS if b != trained_on)
    assert f"BACKEND {trained_on}" in run("train", trained_on, tmp_path)
    run("classify", other, tmp_path)
    here, there = np.load(tmp_path / "train.npy"), np.load(tmp_path / "classify.npy")
    labelled = labels > 0
    assert np.array_equal(here.argmax(-1), there.argmax(-1))
    np.testing.assert_allclose(here, there, atol=1e-4)
    # A real model, not a constant: it gets most labelled pixels right.
    class_ids = np.unique(labels[labelled])
    assert (class_ids[here.argmax(-1)][labelled] == labels[labelled]).mean() > 0.6  # chance: 29%
