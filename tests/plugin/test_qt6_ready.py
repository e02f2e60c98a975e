"""The plugin's source uses only forms that PyQt6 (QGIS 4) accepts as well as PyQt5 (QGIS 3.22 on).

What the scan catches, in every module of fast3dcnn_qgis/:

- an enum value reached straight from its class (``QgsProcessing.TypeRaster``,
  ``QDialogButtonBox.Ok``, ``Qgis.Warning``): every dotted name that starts with a class imported
  from ``qgis.core``, ``qgis.gui`` or ``qgis.PyQt`` is resolved on the QGIS running the test, and an
  enum member whose parent is not its enum type fails; the scoped forms
  (``QgsProcessing.SourceType.TypeRaster``) pass;
- ``exec_()``, which PyQt6 removed (``exec()`` works on both);
- importing ``PyQt5`` or ``PyQt6`` directly instead of through ``qgis.PyQt``;
- ``QAction`` imported from ``QtWidgets`` alone: Qt 6 moved it to ``QtGui``, so the QtGui import
  must come first with QtWidgets only as the Qt 5 fallback.

Enum values read from an instance (``definition.FlagHidden``) cannot be resolved statically and
are not caught: write them through the class.
"""
import ast
import glob
import importlib
import os

import pytest

ROOT = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir)
PLUGIN = os.path.join(ROOT, "fast3dcnn_qgis")
QT_MODULES = ("qgis.core", "qgis.gui", "qgis.PyQt")

# Part of the suite that `make test-debian-unstable` runs (pytest -m debian_unstable).
pytestmark = pytest.mark.debian_unstable


def modules():
    return sorted(glob.glob(os.path.join(PLUGIN, "**", "*.py"), recursive=True))


def _qt_names(tree):
    """{local name: object} of everything the module imports from QGIS or Qt (anywhere in it)."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(QT_MODULES):
            module = importlib.import_module(node.module)
            for alias in node.names:
                if hasattr(module, alias.name):
                    names[alias.asname or alias.name] = getattr(module, alias.name)
    return names


def _is_enum_type(value):
    return isinstance(value, type) and issubclass(value, int) and value is not int


def _is_enum_member(value):
    return isinstance(value, int) and type(value) not in (int, bool) and not isinstance(value, type)


def _chain(node):
    """(base name, [attributes]) of a dotted name such as QgsProcessing.SourceType.TypeRaster."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return (node.id, parts[::-1]) if isinstance(node, ast.Name) else (None, [])


def unscoped_enums(source):
    tree = ast.parse(source)
    names = _qt_names(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        base, parts = _chain(node)
        if base not in names:
            continue
        owner = names[base]
        for attribute in parts:
            value = getattr(owner, attribute, None)
            if _is_enum_member(value) and not _is_enum_type(owner):
                found.append(f"line {node.lineno}: {base}.{'.'.join(parts)}")
                break
            owner = value
    return sorted(set(found))


@pytest.mark.parametrize("path", modules(), ids=lambda path: os.path.relpath(path, PLUGIN))
def test_no_qt5_only_forms(path):
    with open(path, encoding="utf-8") as stream:
        source = stream.read()
    assert unscoped_enums(source) == [], "write enum values with their enum's name"
    assert "exec_(" not in source
    tree = ast.parse(source)
    direct = [node.lineno for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
              and any((getattr(node, "module", None) or alias.name).startswith(("PyQt5", "PyQt6"))
                      for alias in node.names)]
    assert direct == [], "import Qt through qgis.PyQt"
    action_from = [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                   and any(alias.name == "QAction" for alias in node.names)]
    assert "qgis.PyQt.QtWidgets" not in action_from or action_from.index("qgis.PyQt.QtGui") == 0


def test_the_scan_catches_what_it_says():
    bad = ("from qgis.core import QgsProcessing, Qgis\nfrom qgis.PyQt.QtWidgets import QDialogButtonBox\n"
           "a = QgsProcessing.TypeRaster\nb = QDialogButtonBox.Ok | QDialogButtonBox.Cancel\nc = Qgis.Warning\n")
    good = ("from qgis.core import QgsProcessing, Qgis\nfrom qgis.PyQt.QtWidgets import QDialogButtonBox\n"
            "a = QgsProcessing.SourceType.TypeRaster\nb = QDialogButtonBox.StandardButton.Ok\n"
            "c = Qgis.MessageLevel.Warning\nd = Qgis.QGIS_VERSION_INT\n")
    assert unscoped_enums(bad) == ["line 3: QgsProcessing.TypeRaster", "line 4: QDialogButtonBox.Cancel",
                                   "line 4: QDialogButtonBox.Ok", "line 5: Qgis.Warning"]
    assert unscoped_enums(good) == []


def test_metadata_declares_qt6_support():
    with open(os.path.join(ROOT, "metadata.txt"), encoding="utf-8") as stream:
        assert "supportsQt6=True" in stream.read().splitlines()
