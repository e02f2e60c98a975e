"""Starts QGIS, where it is installed, before any test module imports TensorFlow (see
tests/plugin/qgis_session.py for why the order matters), then imports TensorFlow the way the plugin
does (fast3dcnn_qgis.setup.dependencies.import_tensorflow), so that the core tests, which import Keras
directly, load it as QGIS will. The core tests run without QGIS too. Where TensorFlow is missing
and JAX is installed (Python 3.14), Keras runs on JAX, chosen before anything imports it, as the
plugin does."""
from fast3dcnn_qgis.setup.dependencies import choose_keras_backend

choose_keras_backend()
try:
    import qgis.core  # noqa: F401
except ImportError:
    pass
else:
    import tests.plugin.qgis_session  # noqa: F401
    from fast3dcnn_qgis.setup.dependencies import import_tensorflow

    import_tensorflow()


def pytest_terminal_summary(terminalreporter):
    """Prints how many cases of the robustness matrix (issue 6) ran, when its tests ran."""
    import sys

    lists = {id(module.MATRIX): module.MATRIX for name, module in list(sys.modules.items())
             if name.split(".")[-1].startswith("test_robustness") and hasattr(module, "MATRIX")}
    cases = [case for matrix in lists.values() for case in matrix]
    if cases:
        terminalreporter.write_line(f"robustness matrix: {len(cases)} cases")
