"""The provider, its algorithms' help pages and the settings they share with the core."""
import os

from qgis.core import QgsApplication

from fast3dcnn_qgis.alg_train import MIN_COMPONENTS, MIN_WINDOW

ROOT = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir)


def algorithms():
    provider = QgsApplication.processingRegistry().providerById("fast3dcnn")
    return {a.id(): a for a in provider.algorithms()}


def test_provider_offers_the_four_algorithms_with_its_icon():
    provider = QgsApplication.processingRegistry().providerById("fast3dcnn")
    assert provider.name() == "Fast 3D CNN (hyperspectral)"
    assert os.path.exists(provider.svgIconPath()) and not provider.icon().isNull()
    assert set(algorithms()) == {"fast3dcnn:train", "fast3dcnn:classify", "fast3dcnn:assess", "fast3dcnn:importmat"}


def test_help_explains_every_parameter_and_output_in_plain_text():
    for algorithm in algorithms().values():
        text = algorithm.shortHelpString()
        assert "<" not in text, "help is shown as plain text by qgis_process"
        for definition in algorithm.parameterDefinitions():
            line = next(line for line in text.splitlines() if f"[{definition.name()}]" in line)
            assert len(line.split(":", 1)[1].strip()) > 20, line
            assert definition.help()
        for output in algorithm.outputDefinitions():
            assert f"[{output.name()}]" in text


def test_train_help_gives_defaults():
    text = algorithms()["fast3dcnn:train"].shortHelpString()
    assert "Window size (pixels) [WINDOW_SIZE] (default 11)" in text
    assert "[SPLIT] (default paper)" in text
    assert "[KEEP_BEST] (default no)" in text


def test_limits_match_the_network():
    from fast3dcnn_qgis.core.network import min_band_count, min_window

    assert MIN_WINDOW == min_window() and MIN_COMPONENTS == min_band_count() + 1


def test_metadata_declares_the_qgis_range_and_provider():
    with open(os.path.join(ROOT, "metadata.txt")) as stream:
        text = stream.read()
    for line in ("qgisMinimumVersion=3.22", "qgisMaximumVersion=4.99", "hasProcessingProvider=yes",
                 "version=0.1.0", "license=GPL-2.0-or-later"):
        assert line in text.splitlines()
    assert os.path.samefile(os.path.join(ROOT, "fast3dcnn_qgis", "metadata.txt"), os.path.join(ROOT, "metadata.txt"))
