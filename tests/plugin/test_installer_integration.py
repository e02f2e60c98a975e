"""The installer for real: QGIS's Python without TensorFlow (a virtual environment on /usr/bin/python3
that sees QGIS and the system's numpy, not the project's .venv), a throw-away QGIS profile, pip
downloading what it needs (about 250 MB, once: pip caches it), then the plugin's own import path.

The figures this shows on Debian 12: QGIS's numpy is 1.24.2 and TensorFlow 2.18 and later need
numpy 1.26, so the pinned numpy makes pip pick TensorFlow 2.17.1, and the network trains with it.
"""
import os
import subprocess
import sys

import pytest
from helpers import SYSTEM_PYTHON, printed, system_python_has

# pip downloads and installs TensorFlow into a throw-away venv (over a minute).
pytestmark = pytest.mark.slow


CHECK = """
import sys
from fast3dcnn_qgis.setup import installer
print("USABLE", installer.activate(sys.argv[1]))
from qgis.core import QgsApplication
app = QgsApplication([], False)
app.initQgis()
from fast3dcnn_qgis.setup.dependencies import compute_device, import_tensorflow, missing_packages
import_tensorflow()
print("MISSING", missing_packages())
import numpy, tensorflow
from fast3dcnn_qgis.core.network import build_fast3dcnn
model = build_fast3dcnn(11, 20, 6)
print("PARAMS", model.count_params())
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
history = model.fit(numpy.random.default_rng(0).normal(size=(8, 11, 11, 20, 1)).astype("float32"),
                    numpy.arange(8) % 6, epochs=1, verbose=0)
print("LOSS", numpy.isfinite(history.history["loss"][0]))
print("NUMPY", numpy.__version__, numpy.__file__)
print("TENSORFLOW", tensorflow.__version__, tensorflow.__file__)
print("DEVICE", compute_device())
app.exitQgis()
print("DONE")
"""


@pytest.mark.skipif(not system_python_has(('qgis.core', 'numpy', 'venv'), 'tensorflow'),
                    reason="needs QGIS's /usr/bin/python3 with QGIS and without TensorFlow")
def test_installer_downloads_into_a_throwaway_profile_and_keeps_qgis_numpy(tmp_path, plugin_root):
    venv = tmp_path / "venv"
    subprocess.run([SYSTEM_PYTHON, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    env = dict(os.environ, PYTHONPATH=plugin_root, QT_QPA_PLATFORM="offscreen", TF_CPP_MIN_LOG_LEVEL="3",
               QGIS_CUSTOM_CONFIG_PATH=str(tmp_path / "profile"))
    before = subprocess.run([python, "-c", "import numpy; print(numpy.__version__, numpy.__file__)"],
                            capture_output=True, text=True, env=env, check=True).stdout.split()
    target = tmp_path / "profile" / "python" / "fast3dcnn_deps"

    done = subprocess.run([python, "-m", "fast3dcnn_qgis.setup.installer", "--target", str(target)],
                          capture_output=True, text=True, env=env, timeout=1200, cwd=plugin_root)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with open(f"{target}-constraints.txt") as stream:
        assert f"numpy=={before[0]}\n" in stream.read()
    assert "Removed copies of QGIS's packages: " in done.stdout and "numpy" in done.stdout.splitlines()[-1]
    assert not any(name.startswith("numpy") for name in os.listdir(target))

    checked = subprocess.run([python, "-c", CHECK, str(target)], capture_output=True, text=True, env=env,
                             timeout=600, cwd=plugin_root)
    assert checked.returncode == 0 and "DONE" in checked.stdout, checked.stdout + checked.stderr[-3000:]
    assert printed(checked.stdout, "USABLE") == "True"
    assert printed(checked.stdout, "MISSING") == "[]"
    assert printed(checked.stdout, "PARAMS") == "994166"
    assert printed(checked.stdout, "LOSS") == "True"
    assert printed(checked.stdout, "NUMPY").split() == before
    assert printed(checked.stdout, "TENSORFLOW").split()[1].startswith(str(target))
    assert printed(checked.stdout, "DEVICE") == "CPU"
    print(printed(checked.stdout, "TENSORFLOW"), "with numpy", before[0], file=sys.stderr)
