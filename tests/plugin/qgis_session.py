"""One headless QGIS for the whole test session, with a throw-away profile, Processing initialised
once and the plugin's provider registered, as QGIS itself would do on start-up.

Imported by the root conftest before any test module, because the order matters: TensorFlow
exports its bundled SQLite and protobuf into the global symbol scope, and a QGIS started after it
crashes creating its authentication database. QGIS itself always starts before the plugin imports
TensorFlow, so this order is also the one users get.
"""
import os
import sys
import tempfile

PROFILE = tempfile.mkdtemp(prefix="f3dcnn-qgis-profile-")
# Set before QGIS starts: the profile and settings go to a temporary folder, never the user's.
os.environ["QGIS_CUSTOM_CONFIG_PATH"] = PROFILE
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from qgis.core import QgsApplication  # noqa: E402

QGIS = QgsApplication([], False)
QGIS.initQgis()
sys.path.append(os.path.join(QgsApplication.pkgDataPath(), "python", "plugins"))

from processing.core.Processing import Processing  # noqa: E402

Processing.initialize()

from fast3dcnn_qgis.provider import Fast3DCNNProvider  # noqa: E402

PROVIDER = Fast3DCNNProvider()
QgsApplication.processingRegistry().addProvider(PROVIDER)
