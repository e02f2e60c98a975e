import pathlib
import re

CORE = pathlib.Path(__file__).resolve().parents[2] / "core"


def test_core_never_imports_qgis_or_gdal():
    pattern = re.compile(r"^\s*(import|from)\s+(qgis|osgeo)\b", re.MULTILINE)
    sources = sorted(CORE.glob("*.py"))
    assert sources
    assert [p.name for p in sources if pattern.search(p.read_text())] == []
