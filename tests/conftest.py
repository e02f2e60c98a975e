"""Starts QGIS, where it is installed, before any test module imports TensorFlow (see
tests/plugin/qgis_session.py for why the order matters). The core tests run without QGIS too."""
try:
    import qgis.core  # noqa: F401
except ImportError:
    pass
else:
    import tests.plugin.qgis_session  # noqa: F401
