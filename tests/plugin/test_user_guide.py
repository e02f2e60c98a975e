"""The dialogs' Help buttons lead into the user guide, and its parameter tables say what the dialogs
say (scripts/docs_parameters.py writes them from the algorithms' help sentences)."""
import configparser
import os
import re
import sys

from qgis.core import QgsApplication

from fast3dcnn_qgis.algorithms.user_guide import USER_GUIDE_URL
from tests.test_docs import anchors

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GUIDE = os.path.join(ROOT, "docs", "user-guide.md")
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import docs_parameters  # noqa: E402


def algorithms():
    provider = QgsApplication.processingRegistry().providerById("fast3dcnn")
    return {algorithm.id(): algorithm for algorithm in provider.algorithms()}


def test_each_help_button_opens_its_section_of_the_guide_on_the_plugin_homepage():
    metadata = configparser.ConfigParser(interpolation=None)
    metadata.read(os.path.join(ROOT, "metadata.txt"), encoding="utf-8")
    assert USER_GUIDE_URL == metadata["general"]["homepage"] + "/blob/main/docs/user-guide.md"
    sections = anchors(GUIDE)
    for algorithm in algorithms().values():
        url, _, anchor = algorithm.helpUrl().partition("#")
        assert url == USER_GUIDE_URL and anchor in sections, (algorithm.id(), algorithm.helpUrl())


def test_the_guide_has_every_parameter_table_and_each_is_up_to_date():
    with open(GUIDE, encoding="utf-8") as stream:
        guide = stream.read()
    assert set(re.findall(r"<!-- parameters ([\w:]+) -->", guide)) == set(algorithms())
    assert docs_parameters.with_tables(guide, algorithms()) == guide, \
        "run: QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/docs_parameters.py"
    train = docs_parameters.parameter_table(algorithms()["fast3dcnn:train"])
    assert "| Hyperspectral raster | `INPUT` |" in train and "| Model file | `OUTPUT_MODEL` |" in train
