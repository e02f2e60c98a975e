"""The Processing provider ``fast3dcnn``: the toolbox entry holding the plugin's algorithms."""
import os

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtGui import QIcon



def _resource(name):
    """A file of resources/: inside the installed plugin, or at the top of a checkout, where the
    card keeps it (the zip and `make deploy` copy it into the plugin)."""
    package = os.path.dirname(os.path.abspath(__file__))
    installed = os.path.join(package, "resources", name)
    return installed if os.path.exists(installed) else os.path.join(os.path.dirname(package), "resources", name)


ICON = _resource("icon.svg")


class Fast3DCNNProvider(QgsProcessingProvider):
    def id(self):
        return "fast3dcnn"

    def name(self):
        return QCoreApplication.translate("Fast3DCNN", "Fast 3D CNN (hyperspectral)")

    def longName(self):
        return self.name()

    def icon(self):
        return QIcon(ICON)

    def svgIconPath(self):
        return ICON

    def loadAlgorithms(self):
        # Imported here so that opening QGIS costs nothing until Processing loads the provider. The
        # algorithm modules import only light packages at the top (numpy, GDAL, QGIS); TensorFlow and
        # scikit-learn are imported when an algorithm runs, so a missing one never hides the tools.
        from .algorithms.assess import AssessAlgorithm
        from .algorithms.classify import ClassifyAlgorithm
        from .algorithms.import_mat import ImportMatAlgorithm
        from .algorithms.model_info import ModelInfoAlgorithm
        from .algorithms.suggest import SuggestAlgorithm
        from .algorithms.train import TrainAlgorithm
        for algorithm in (TrainAlgorithm(), ClassifyAlgorithm(), SuggestAlgorithm(), AssessAlgorithm(),
                          ModelInfoAlgorithm(), ImportMatAlgorithm()):
            self.addAlgorithm(algorithm)
