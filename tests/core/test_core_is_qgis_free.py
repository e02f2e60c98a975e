"""The seam between the core and the plugin: core/ knows arrays, not files, QGIS or the plugin, so
it runs, is tested and is scaled out where neither QGIS nor GDAL is installed."""
import ast
import pathlib

CORE = pathlib.Path(__file__).resolve().parents[2] / "core"
FORBIDDEN = ("qgis", "osgeo", "fast3dcnn_qgis", "processing", "PyQt5", "PyQt6")


def outside_imports(source):
    """(line, module) of each import in ``source`` that reaches beyond the core: a forbidden
    package, at any depth of the code, or a relative import that climbs out of the core package."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level > 1:
                found.append((node.lineno, "." * node.level + (node.module or "")))
            names = [node.module or ""] if node.level == 0 else []
        else:
            continue
        found += [(node.lineno, name) for name in names if name.split(".")[0] in FORBIDDEN]
    return found


def test_core_imports_nothing_of_qgis_gdal_or_the_plugin():
    sources = sorted(CORE.glob("*.py"))
    assert len(sources) > 20
    assert {p.name: outside_imports(p.read_text()) for p in sources if outside_imports(p.read_text())} == {}


def test_the_guard_sees_every_way_out():
    escapes = """
import os
from osgeo import gdal
def f():
    import qgis.core
    from fast3dcnn_qgis.gdal_io import reading
from ..setup import installer
from .blocks import Block
import fast3dcnn_qgis
"""
    assert [module for _, module in outside_imports(escapes)] == [
        "osgeo", "..setup", "fast3dcnn_qgis", "qgis.core", "fast3dcnn_qgis.gdal_io"]
