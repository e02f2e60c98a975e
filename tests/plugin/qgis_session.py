"""One headless QGIS for the whole test session, with a throw-away profile, Processing initialised
once and the plugin's provider registered, as QGIS itself would do on start-up."""
import os
import shutil
import sys
import tempfile

import pytest

_PROFILE = tempfile.mkdtemp(prefix="f3dcnn-qgis-profile-")
# Set before QGIS starts: the profile and settings go to a temporary folder, never the user's.
os.environ["QGIS_CUSTOM_CONFIG_PATH"] = _PROFILE
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from qgis.core import QgsApplication  # noqa: E402

_QGIS = QgsApplication([], False)
_QGIS.initQgis()
sys.path.append(os.path.join(QgsApplication.pkgDataPath(), "python", "plugins"))

from processing.core.Processing import Processing  # noqa: E402

Processing.initialize()

from fast3dcnn_qgis.provider import Fast3DCNNProvider  # noqa: E402

PROVIDER = Fast3DCNNProvider()
QgsApplication.processingRegistry().addProvider(PROVIDER)

DATA = os.path.join(os.path.dirname(__file__), os.pardir, "data")


@pytest.fixture(scope="session")
def qgis_app():
    yield _QGIS


@pytest.fixture(scope="session")
def salinas(tmp_path_factory):
    """Copies of the shipped Salinas-A cube and labels: QGIS and GDAL write sidecars next to what
    they open, and the shipped files must stay untouched."""
    folder = tmp_path_factory.mktemp("salinas")
    for name in ("salinas_a.tif", "salinas_a_gt.tif"):
        shutil.copy(os.path.join(DATA, name), folder / name)
    return folder / "salinas_a.tif", folder / "salinas_a_gt.tif"


def pytest_sessionfinish(session, exitstatus):
    QgsApplication.processingRegistry().removeProvider(PROVIDER)
    shutil.rmtree(_PROFILE, ignore_errors=True)
