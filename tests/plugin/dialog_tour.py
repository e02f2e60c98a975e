"""Opens every algorithm's dialog and the batch dialog in a real QGIS GUI window, as a person
would, and prints what that person would see, one ``KEY json`` line per finding.

Run by tests/plugin/test_dialogs.py under Xvfb, in a process of its own: the test session's QGIS
has no GUI, and QGIS allows one application per process.

    dialog_tour.py DATA ARTEFACTS

DATA holds cube.tif (a georeferenced Salinas-A cube), labels.tif, polygons.gpkg (the labels as
polygons with the fields class_id and name) and crop.tif (a window of the cube); the screenshots
are written to ARTEFACTS.
"""
import json
import os
import sys
import time

from qgis.core import QgsApplication, QgsProcessingModelAlgorithm, QgsProject, QgsRasterLayer, QgsVectorLayer

APP = QgsApplication([], True)
APP.initQgis()
sys.path.append(os.path.join(QgsApplication.pkgDataPath(), "python", "plugins"))

import processing  # noqa: E402
from processing.core.Processing import Processing  # noqa: E402
from processing.gui.AlgorithmDialog import AlgorithmDialog  # noqa: E402
from processing.gui.BatchAlgorithmDialog import BatchAlgorithmDialog  # noqa: E402
from processing.modeler.ModelerDialog import ModelerDialog  # noqa: E402
from processing.modeler.ModelerParametersDialog import ModelerParametersDialog  # noqa: E402
from processing.tools import dataobjects  # noqa: E402
from qgis.PyQt.QtWidgets import QCheckBox, QLabel, QTextBrowser  # noqa: E402

from fast3dcnn_qgis.provider import Fast3DCNNProvider  # noqa: E402

Processing.initialize()
PROVIDER = Fast3DCNNProvider()
QgsApplication.processingRegistry().addProvider(PROVIDER)
DATA, ARTEFACTS = sys.argv[1:3]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONTEXT = dataobjects.createContext()


def say(key, value):
    print(key, json.dumps(value), flush=True)


def settle(seconds=0.5):
    """Lets the window draw itself and queued signals (a layer change filling a field list) arrive."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        APP.processEvents()
        time.sleep(0.02)


def screenshot(widget, name):
    """Saves what the window shows; returns (path, number of distinct colours on a sample grid): a
    window that failed to draw is one or two flat colours."""
    path = os.path.join(ARTEFACTS, name + ".png")
    image = widget.grab().toImage()
    image.save(path)
    colours = {image.pixel(x, y) for x in range(0, image.width(), max(1, image.width() // 60))
               for y in range(0, image.height(), max(1, image.height() // 60))}
    return path, len(colours)


def shown_value(wrapper):
    value = wrapper.parameterValue()
    return value if isinstance(value, (int, float, str, bool, type(None))) else str(value)


def tour_dialog(algorithm):
    """Which parameter labels, defaults and help a person sees in the algorithm's dialog."""
    dialog = AlgorithmDialog(algorithm.create(), False, None)
    dialog.resize(1000, 800)
    dialog.show()
    settle()
    panel = dialog.mainWidget()
    labels = " ".join(label.text() for kind in (QLabel, QCheckBox) for label in dialog.findChildren(kind))
    help_text = " ".join(browser.toPlainText() for browser in dialog.findChildren(QTextBrowser))
    definitions = [d for d in algorithm.parameterDefinitions() if not d.isDestination()]
    path, colours = screenshot(dialog, "dialog_" + algorithm.name())
    say("DIALOG", {
        "algorithm": algorithm.id(), "screenshot": path, "colours": colours,
        "labels_missing": [d.name() for d in algorithm.parameterDefinitions() if d.description() not in labels],
        "defaults": {d.name(): [shown_value(panel.wrappers[d.name()]), d.defaultValue()]
                     for d in definitions if d.defaultValue() is not None},
        "help_shown": algorithm.shortHelpString().splitlines()[0] in help_text,
        "help_names_every_parameter": all(f"[{d.name()}]" in help_text for d in definitions)})
    dialog.close()


def field_choices(wrapper):
    combo = wrapper.widget
    return [combo.itemText(i) for i in range(combo.count())]


def tour_class_field(layers):
    """CLASS_FIELD follows the ground truth chosen in the train dialog: the vector layer's fields,
    none for a label raster."""
    dialog = AlgorithmDialog(QgsApplication.processingRegistry().createAlgorithmById("fast3dcnn:train"), False, None)
    dialog.show()
    panel = dialog.mainWidget()
    truth, field = panel.wrappers["GROUND_TRUTH"], panel.wrappers["CLASS_FIELD"]
    seen = {}
    for name in ("polygons", "labels", "polygons"):
        truth.setParameterValue(layers[name], CONTEXT)
        settle()
        seen.setdefault(name, field_choices(field))
    field.setParameterValue("name", CONTEXT)
    settle()
    path, _ = screenshot(dialog, "dialog_train_class_field")
    say("CLASS_FIELD", {"polygons": seen["polygons"], "labels": seen["labels"], "chosen": field.parameterValue(),
                        "screenshot": path})
    dialog.close()


def tour_batch_class_field(layers):
    """In the batch dialog each row's CLASS_FIELD follows that row's ground truth."""
    dialog = BatchAlgorithmDialog(QgsApplication.processingRegistry().createAlgorithmById("fast3dcnn:train"))
    dialog.show()
    panel = dialog.mainWidget()
    panel.clear()
    panel.addRow(2)
    for row, name in enumerate(("polygons", "labels")):
        panel.wrappers[row][panel.parameter_to_column["GROUND_TRUTH"]].setParameterValue(layers[name], CONTEXT)
    settle()
    say("BATCH_CLASS_FIELD", [field_choices(panel.wrappers[row][panel.parameter_to_column["CLASS_FIELD"]])
                              for row in range(2)])
    dialog.close()


def wait_for(paths, timeout=300):
    """The batch dialog of QGIS 3.22 runs rows in turn; later versions run them as background tasks."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        settle(0.2)
        if all(os.path.exists(p) for p in paths) and not QgsApplication.taskManager().countActiveTasks():
            return True
    return False


def tour_batch(model):
    """Classifies the cube and its crop in one batch, rows filled the way the batch dialog loads a
    saved batch file."""
    dialog = BatchAlgorithmDialog(QgsApplication.processingRegistry().createAlgorithmById("fast3dcnn:classify"))
    dialog.resize(1100, 500)
    dialog.show()
    panel = dialog.mainWidget()
    panel.checkLoadLayersOnCompletion.setChecked(False)
    panel.clear()
    outputs = []
    for row, name in enumerate(("cube", "crop")):
        panel.addRow()
        for key, value in (("INPUT", os.path.join(DATA, name + ".tif")), ("MODEL", model)):
            panel.wrappers[row][panel.parameter_to_column[key]].setParameterValue(value, CONTEXT)
        outputs.append(os.path.join(DATA, f"batch_{name}.tif"))
        panel.tblParameters.cellWidget(row + 1, panel.parameter_to_column["OUTPUT"]).setValue(outputs[-1])
    settle()
    path, colours = screenshot(dialog, "dialog_batch_classify")
    dialog.runAlgorithm()
    say("BATCH", {"rows": panel.batchRowCount(), "outputs": outputs, "finished": wait_for(outputs),
                  "screenshot": path, "colours": colours})
    dialog.close()


def tour_modeler():
    """The shipped model in the graphical modeler: every step valid, and the train step's own dialog
    keeps CLASS_FIELD tied to the model's class-field input when a person opens it and presses OK."""
    model = QgsProcessingModelAlgorithm()
    loaded = model.fromFile(os.path.join(ROOT, "resources", "models", "train_classify_assess.model3"))
    designer = ModelerDialog.create(model)
    designer.resize(1200, 800)
    designer.show()
    settle()
    path, colours = screenshot(designer, "modeler_train_classify_assess")
    model = designer.model()
    step = model.childAlgorithm("train")
    dialog = ModelerParametersDialog(step.algorithm(), model, step.childId(), step.configuration())
    dialog.show()
    settle()
    wrapper = dialog.widget.widget.wrappers["CLASS_FIELD"]
    source = dialog.createAlgorithm().parameterSources()["CLASS_FIELD"][0]
    say("MODELER", {"loaded": loaded, "screenshot": path, "colours": colours,
                    "steps": {child: model.validateChildAlgorithm(child)[0] for child in model.childAlgorithms()},
                    "class_field_shown": wrapper.widget.currentText(), "class_field_input": source.parameterName()})
    dialog.close()
    designer.close()


def main():
    os.makedirs(ARTEFACTS, exist_ok=True)
    for algorithm in PROVIDER.algorithms():
        tour_dialog(algorithm)
    layers = {"polygons": QgsVectorLayer(os.path.join(DATA, "polygons.gpkg"), "polygons", "ogr"),
              "labels": QgsRasterLayer(os.path.join(DATA, "labels.tif"), "labels")}
    QgsProject.instance().addMapLayers(list(layers.values()))
    tour_class_field(layers)
    tour_batch_class_field(layers)
    model = os.path.join(DATA, "polygons.f3dcnn")
    processing.run("fast3dcnn:train", {
        "INPUT": os.path.join(DATA, "cube.tif"), "GROUND_TRUTH": layers["polygons"], "CLASS_FIELD": "class_id",
        "EPOCHS": 2, "OUTPUT_MODEL": model, "OUTPUT_REPORT": os.path.join(DATA, "polygons.html")})
    tour_batch(model)
    tour_modeler()
    QgsProject.instance().removeAllMapLayers()
    say("DONE", True)


main()
