"""TensorFlow and scikit-learn are imported only when an algorithm runs, in a way that survives QGIS's
own libraries; without them the plugin still loads and the algorithms say how to install them."""
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

from fast3dcnn_qgis.setup import dependencies, installer

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))
SYSTEM_PYTHON = "/usr/bin/python3"

SCRIPT = """
import sys
import tempfile
from qgis.core import QgsApplication, QgsProcessingContext, QgsProcessingException, QgsProcessingFeedback
app = QgsApplication([], False)
app.initQgis()
from fast3dcnn_qgis.provider import Fast3DCNNProvider
provider = Fast3DCNNProvider()
QgsApplication.processingRegistry().addProvider(provider)
print("ALGORITHMS", sorted(a.id() for a in provider.algorithms()))
algorithm = QgsApplication.processingRegistry().createAlgorithmById("fast3dcnn:classify")
try:
    algorithm.run({"INPUT": sys.argv[1], "MODEL": sys.argv[2], "OUTPUT": sys.argv[3]}, QgsProcessingContext(),
                  QgsProcessingFeedback(), {}, False)
except QgsProcessingException as error:
    print("ERROR", error)
"""


def system_python_lacks_the_packages():
    if not os.path.exists(SYSTEM_PYTHON):
        return False
    probe = subprocess.run([SYSTEM_PYTHON, "-s", "-c", "import keras"], capture_output=True)
    return probe.returncode != 0


@pytest.mark.skipif(not system_python_lacks_the_packages(),
                    reason="QGIS's Python here has Keras installed: nothing missing to report")
@pytest.mark.slow
def test_plugin_loads_and_algorithms_explain_the_install_without_the_packages(salinas, tmp_path, plugin_root):
    env = dict(os.environ, PYTHONPATH=plugin_root, QT_QPA_PLATFORM="offscreen",
               QGIS_CUSTOM_CONFIG_PATH=str(tmp_path / "profile"))
    done = subprocess.run([SYSTEM_PYTHON, "-s", "-c", SCRIPT, str(salinas[0]), str(tmp_path / "m.f3dcnn"),
                           str(tmp_path / "map.tif")], capture_output=True, text=True, env=env, timeout=120,
                          cwd=plugin_root)
    assert ("ALGORITHMS ['fast3dcnn:assess', 'fast3dcnn:classify', 'fast3dcnn:importmat', 'fast3dcnn:modelinfo', "
            "'fast3dcnn:suggest', 'fast3dcnn:train']") in done.stdout, done.stderr
    assert "ERROR" in done.stdout and "keras (package tensorflow-cpu)" in done.stdout
    assert dependencies.install_command() in done.stdout
    assert dependencies.install_command().startswith(
        'python3 -m pip install "tensorflow-cpu>=2.16,<=2.21.0" "scikit-learn>=1.3,<1.10" "dask[distributed]>=2024.1" '
        '"numpy==')
    assert not (tmp_path / "map.tif").exists()


def requirements_for(version):
    """requirements.txt's lines that apply to Python ``version`` (its markers compare python_version only)."""
    with open(os.path.join(ROOT, "requirements.txt")) as stream:
        lines = [line.strip() for line in stream if line.strip() and not line.startswith("#")]
    applying = []
    for line in lines:
        requirement, _, marker = line.partition(";")
        if marker:
            operator, bound = marker.replace("python_version", "").replace('"', "").split()
            bound = tuple(int(part) for part in bound.split("."))
            if not {"<": version < bound, ">=": version >= bound}[operator]:
                continue
        applying.append(requirement.strip())
    return applying


@pytest.mark.parametrize("version", [(3, 11), (3, 13), (3, 14)])
def test_requirements_ask_for_what_the_installer_asks_for_on_every_python(version):
    assert requirements_for(version) == installer.requirements("linux", version=version)
    assert installer.keras_backend(version) == ("jax" if version >= (3, 14) else "tensorflow")
    assert bool(installer.backend_note(version)) == (version >= (3, 14))


def test_install_command_keeps_qgis_numpy():
    assert not any(line.startswith("numpy") for line in requirements_for((3, 11)) + requirements_for((3, 14)))
    import numpy
    assert dependencies.install_command().endswith(f'"numpy=={numpy.__version__}"')
    assert dependencies.missing_packages() == []


def test_a_python_without_any_release_gets_a_sentence_not_pip_alone():
    pip = "ERROR: Could not find a version that satisfies the requirement tensorflow-cpu<=2.21.0,>=2.16\n" \
          "ERROR: No matching distribution found for tensorflow-cpu<=2.21.0,>=2.16\n"
    hint = installer.failure_hint(pip, (3, 15))
    assert "Python 3.15 is not supported" in hint and "keras, jax, scikit-learn" in hint
    assert "python3-pip" in installer.failure_hint("No module named pip", (3, 11))


@pytest.mark.slow
def test_tensorflow_imports_where_qgis_has_loaded_its_protobuf_globally():
    """The QGIS application and qgis_process link libqgis_core, and with it the system's
    libprotobuf-lite, into the global symbol scope; a plain ``import tensorflow`` then aborts the
    whole process. Reproduced here by loading libqgis_core globally before the plugin's import."""
    core = next((os.path.join(folder, name) for folder in ("/lib", "/usr/lib", "/usr/lib/x86_64-linux-gnu")
                 if os.path.isdir(folder) for name in sorted(os.listdir(folder))
                 if name.startswith("libqgis_core.so.")), None)
    if core is None:
        pytest.skip("libqgis_core not found")
    script = ("import ctypes, os, sys; ctypes.CDLL(sys.argv[1], os.RTLD_GLOBAL); "
              "from fast3dcnn_qgis.setup.dependencies import missing_packages; print('MISSING', missing_packages())")
    done = subprocess.run([sys.executable, "-c", script, core], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3"))
    assert done.returncode == 0 and "MISSING []" in done.stdout, done.stderr[-2000:]


@pytest.mark.slow
def test_qgis_exits_cleanly_after_the_plugin_used_tensorflow():
    """With TensorFlow's libraries in the global scope, Qt's SQLite driver closes QGIS's databases
    with TensorFlow's bundled SQLite at exit and the process dies with a segmentation fault."""
    script = ("import os, sys; from qgis.core import QgsApplication; app = QgsApplication([], False); "
              "app.initQgis(); from fast3dcnn_qgis.setup.dependencies import import_tensorflow; import_tensorflow(); "
              "import keras, numpy; keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])"
              ".predict_on_batch(numpy.zeros((1, 3))); app.exitQgis(); print('DONE')")
    profile = tempfile.mkdtemp(prefix="f3dcnn-exit-profile-")
    try:
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                              env=dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3",
                                       QT_QPA_PLATFORM="offscreen", QGIS_CUSTOM_CONFIG_PATH=profile))
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert done.returncode == 0 and "DONE" in done.stdout, (done.returncode, done.stderr[-2000:])


#: What an algorithm does: the core imported with its module, then the packages checked (TensorFlow imported).
ONEDNN = ("import fast3dcnn_qgis.core.errors; from fast3dcnn_qgis.setup.dependencies import missing_packages; "
          "missing_packages(); "
          "from tensorflow.python.util import _pywrap_util_port; print('ONEDNN', _pywrap_util_port.IsMklEnabled())")


@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None, reason="needs TensorFlow")
@pytest.mark.slow
def test_tensorflow_runs_its_onednn_kernels_on_any_processor_unless_the_user_said_no():
    """TensorFlow turns oneDNN on by itself only on processors with AVX-512 VNNI, BF16 or AMX; on AVX2
    its Eigen Conv3D gradients made training 2.7 times slower (fast3dcnn_qgis.core)."""
    env = {key: value for key, value in os.environ.items() if key not in ("TF_ENABLE_ONEDNN_OPTS", "KERAS_BACKEND")}
    env.update(PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3")

    def onednn(**extra):
        done = subprocess.run([sys.executable, "-c", ONEDNN], capture_output=True, text=True, timeout=300,
                              env=dict(env, **extra))
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout.split("ONEDNN")[-1].strip()

    assert onednn() == "True"
    assert onednn(TF_ENABLE_ONEDNN_OPTS="0") == "False"


JAX_TRAINING = """
from fast3dcnn_qgis.setup.dependencies import choose_keras_backend
print("BACKEND", choose_keras_backend())
import numpy
from fast3dcnn_qgis.core.network import build_fast3dcnn
network = build_fast3dcnn(9, 16, 3)
network.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
network.train_on_batch(numpy.ones((8, 9, 9, 16, 1), numpy.float32), numpy.zeros(8, int))
"""


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="needs JAX")
@pytest.mark.slow
def test_jax_keeps_its_compiled_steps_in_the_users_cache_unless_told_otherwise(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith("JAX_COMPILATION_CACHE")}
    env.update(KERAS_BACKEND="jax", JAX_PLATFORMS="cpu", XDG_CACHE_HOME=str(tmp_path / "cache"), PYTHONPATH=ROOT,
               TF_CPP_MIN_LOG_LEVEL="3")

    def train(**extra):
        done = subprocess.run([sys.executable, "-c", JAX_TRAINING], capture_output=True, text=True,
                              env=dict(env, **extra), timeout=600)
        assert done.returncode == 0 and "BACKEND jax" in done.stdout, done.stderr[-3000:]

    train()
    assert os.listdir(tmp_path / "cache" / "fast3dcnn_qgis" / "jax")
    train(JAX_COMPILATION_CACHE_DIR=str(tmp_path / "mine"))
    assert os.listdir(tmp_path / "mine")
