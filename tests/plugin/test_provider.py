"""The provider, its algorithms' help pages and the settings they share with the core."""
import os
import shutil
import subprocess
import sys

from qgis.core import QgsApplication

from fast3dcnn_qgis.core import settings

ROOT = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir)


def algorithms():
    provider = QgsApplication.processingRegistry().providerById("fast3dcnn")
    return {a.id(): a for a in provider.algorithms()}


def test_provider_offers_its_algorithms_with_its_icon():
    provider = QgsApplication.processingRegistry().providerById("fast3dcnn")
    assert provider.name() == "Fast 3D CNN (hyperspectral)"
    assert os.path.exists(provider.svgIconPath()) and not provider.icon().isNull()
    assert set(algorithms()) == {"fast3dcnn:train", "fast3dcnn:classify", "fast3dcnn:assess", "fast3dcnn:modelinfo",
                                 "fast3dcnn:importmat", "fast3dcnn:suggest"}


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
    assert "[SPLIT] (default auto)" in text
    assert "[KEEP_BEST] (default no)" in text
    # Left empty, EPOCHS, LEARNING_RATE, PATIENCE, PRECISION and COTRAINING are the recipe's, and the help says
    # what each recipe uses.
    assert "Empty: the recipe's (paper 50, robust 40)." in text
    assert "Empty: the recipe's (paper 0.001, robust 0.0025)." in text
    assert "Empty: the recipe's (paper 0, robust 10)." in text
    assert "Empty: the recipe's (paper float32, robust auto)." in text
    assert "Empty: the recipe's (paper off, robust auto)." in text


def test_train_help_comes_from_one_qgis_free_table_the_user_guide_can_print():
    """Every parameter and output of fast3dcnn:train takes its label and help from train_help, which
    a script imports without QGIS (a fresh interpreter shows nothing of qgis loaded)."""
    from fast3dcnn_qgis.algorithms import train_help

    train = algorithms()["fast3dcnn:train"]
    declared = {d.name(): (d.description(), d.help()) for d in train.parameterDefinitions()}
    declared.update({o.name(): (o.description(), train._help[o.name()]) for o in train.outputDefinitions()
                     if o.name() not in declared})
    from_table = {key: (text.label, text.help) for key, text in train_help.PARAMETERS.items()}
    assert {key: declared[key] for key in from_table} == from_table
    assert set(declared) - set(from_table) == {"MIN_CONFIDENCE", "OUTPUT_CONFIDENCE", "OUTPUT_PROBABILITIES"}
    script = ("import sys, fast3dcnn_qgis.algorithms.train_help as h; "
              "print(len(h.PARAMETERS), sorted({m.split('.')[0] for m in sys.modules} & {'qgis', 'osgeo', 'keras'}))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.stdout.split(None, 1) == [str(len(from_table)), "[]\n"], done.stderr


def test_train_parameters_take_their_limits_from_the_core_and_the_network_accepts_them():
    from fast3dcnn_qgis.core.network import build_fast3dcnn

    train = algorithms()["fast3dcnn:train"]
    for key, limit in (("WINDOW_SIZE", settings.WINDOW), ("COMPONENTS", settings.COMPONENTS),
                       ("BATCH_SIZE", settings.BATCH_SIZE), ("DROPOUT", settings.DROPOUT)):
        definition = train.parameterDefinition(key)
        assert (definition.defaultValue(), definition.minimum(), definition.maximum()) == \
            (limit.default, limit.minimum, limit.maximum), key
    for key, limit in (("EPOCHS", settings.EPOCHS), ("LEARNING_RATE", settings.LEARNING_RATE),
                       ("PATIENCE", settings.PATIENCE)):  # empty: the recipe's
        definition = train.parameterDefinition(key)
        assert (definition.defaultValue(), definition.minimum(), definition.maximum()) == \
            (None, limit.minimum, limit.maximum), key
        assert definition.checkValueIsAcceptable(None) and not definition.checkValueIsAcceptable(-1), key
    assert train.parameterDefinition("SPLIT").options() == list(settings.SPLIT_METHODS)
    smallest = build_fast3dcnn(settings.WINDOW.minimum, settings.COMPONENTS.minimum, 2)
    assert smallest.output_shape == (None, 2)


def test_metadata_declares_the_qgis_range_and_provider():
    with open(os.path.join(ROOT, "metadata.txt")) as stream:
        text = stream.read()
    for line in ("qgisMinimumVersion=3.22", "qgisMaximumVersion=4.99", "hasProcessingProvider=yes",
                 "version=0.1.0", "license=GPL-2.0-or-later"):
        assert line in text.splitlines()
    with open(os.path.join(ROOT, "pyproject.toml")) as stream:
        assert 'version = "0.1.0"' in stream.read()  # the editable install's, as the plugin's


def test_the_plugin_and_its_checks_load_without_keras(tmp_path):
    """QGIS builds the dialogs and rejects bad input on its GUI thread: that must never import Keras,
    nor scikit-learn or scipy, which a QGIS without the plugin's dependencies may lack."""
    for name in ("salinas_a.tif", "salinas_a_gt.tif"):  # copies: QGIS writes statistics beside layers it opens
        shutil.copy(os.path.join(ROOT, "tests", "data", name), tmp_path / name)
    code = """
import sys
from qgis.core import QgsApplication, QgsProcessingContext
app = QgsApplication([], False)
app.initQgis()
from fast3dcnn_qgis.provider import Fast3DCNNProvider
provider = Fast3DCNNProvider()
QgsApplication.processingRegistry().addProvider(provider)
train = QgsApplication.processingRegistry().createAlgorithmById("fast3dcnn:train")
parameters = {"INPUT": sys.argv[1] + "/salinas_a.tif", "GROUND_TRUTH": sys.argv[1] + "/salinas_a_gt.tif",
              "WINDOW_SIZE": 10, "OUTPUT_MODEL": sys.argv[1] + "/m.f3dcnn", "OUTPUT_REPORT": sys.argv[1] + "/r.html"}
ok, message = train.checkParameterValues(parameters, QgsProcessingContext())
print(ok, "use 9 or 11" in message, message)
print(sorted(m for m in sys.modules if m.split(".")[0] in ("keras", "tensorflow", "sklearn", "scipy")))
"""
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={**os.environ, "QGIS_CUSTOM_CONFIG_PATH": str(tmp_path / "profile")})
    checked, imported = done.stdout.split("\n")[:2]
    assert checked.startswith("False True") and imported == "[]", done.stdout + done.stderr
