"""The Processing provider ``fast3dcnn``: the toolbox entry holding the plugin's algorithms."""
import os

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtGui import QIcon

ICON = os.path.join(os.path.dirname(__file__), "resources", "icon.svg")


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
        from .alg_assess import AssessAlgorithm
        from .alg_classify import ClassifyAlgorithm
        from .alg_importmat import ImportMatAlgorithm
        from .alg_modelinfo import ModelInfoAlgorithm
        from .alg_train import TrainAlgorithm
        for algorithm in (TrainAlgorithm(), ClassifyAlgorithm(), AssessAlgorithm(), ModelInfoAlgorithm(),
                          ImportMatAlgorithm()):
            self.addAlgorithm(algorithm)
