"""The QGIS GUI plugin: it only registers the Processing provider, where all the work lives."""
from qgis.core import QgsApplication

from .provider import Fast3DCNNProvider


class Fast3DCNNPlugin:
    def __init__(self, iface):
        self.iface = iface
        self.provider = None

    def initProcessing(self):
        """Called by QGIS (also by qgis_process, which has no GUI) before initGui."""
        if self.provider is None:
            self.provider = Fast3DCNNProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self):
        self.initProcessing()

    def unload(self):
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
