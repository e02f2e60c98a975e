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
        # Imported here so that opening QGIS costs nothing until Processing loads the provider.
        from .alg_classify import ClassifyAlgorithm
        from .alg_train import TrainAlgorithm
        algorithms = [TrainAlgorithm(), ClassifyAlgorithm()]
        # Accuracy assessment and .mat import are provided by their own files (alg_assess.py,
        # alg_importmat.py), written alongside; the provider loads them when they are present.
        try:
            from .alg_assess import AssessAlgorithm
            algorithms.append(AssessAlgorithm())
        except ImportError:
            pass
        try:
            from .alg_importmat import ImportMatAlgorithm
            algorithms.append(ImportMatAlgorithm())
        except ImportError:
            pass
        for algorithm in algorithms:
            self.addAlgorithm(algorithm)
