"""Fixtures of the plugin tests; the QGIS session itself is started by qgis_session."""
import os
import shutil
import subprocess
import sys

import pytest
from qgis.core import QgsApplication

from tests.plugin.qgis_session import PROFILE, PROVIDER, QGIS

DATA = os.path.join(os.path.dirname(__file__), os.pardir, "data")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="session")
def plugin_root(tmp_path_factory):
    """A folder holding the plugin as QGIS installs it (scripts/package.py --stage), for the tests
    that run QGIS's own Python, which knows nothing of this checkout's editable install: put it on
    PYTHONPATH and run there (cwd, so the checkout's own folder is not first on ``sys.path``), and
    ``import fast3dcnn_qgis`` finds the plugin with its core/ inside."""
    folder = tmp_path_factory.mktemp("plugins")
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "package.py"), "--stage", str(folder)], check=True,
                   capture_output=True)
    return str(folder)


@pytest.fixture(scope="session")
def qgis_app():
    yield QGIS


@pytest.fixture(scope="session")
def salinas(tmp_path_factory):
    """Copies of the shipped Salinas-A cube and labels (with the sidecar that names the classes): QGIS
    and GDAL write sidecars next to what they open, and the shipped files must stay untouched."""
    folder = tmp_path_factory.mktemp("salinas")
    for name in ("salinas_a.tif", "salinas_a_gt.tif", "salinas_a_gt.tif.aux.xml"):
        shutil.copy(os.path.join(DATA, name), folder / name)
    return folder / "salinas_a.tif", folder / "salinas_a_gt.tif"


def pytest_sessionfinish(session, exitstatus):
    QgsApplication.processingRegistry().removeProvider(PROVIDER)
    shutil.rmtree(PROFILE, ignore_errors=True)
