"""QGIS plugin entry point. Kept import-light: QGIS imports this at start-up and the core's tests
import it as the package root, so nothing heavy (Qt widgets, TensorFlow) is imported here."""


def classFactory(iface):
    from .plugin import Fast3DCNNPlugin
    return Fast3DCNNPlugin(iface)
