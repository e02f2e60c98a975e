"""Writes resources/models/train_classify_assess.model3, the Processing model shipped with the plugin:
train on a raster and its ground truth, classify the raster with the new model, and assess the map
against independent reference data. Built through QGIS's model API rather than edited by hand, so
that every child parameter is one the algorithms really have; rerun after changing them:

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/processing_model.py
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
# Qt writes XML attributes in hash order: a fixed seed gives the same file for the same model.
os.environ["QT_HASH_SEED"] = "0"

from qgis.core import (QgsApplication, QgsProcessing, QgsProcessingModelAlgorithm,  # noqa: E402
                       QgsProcessingModelChildAlgorithm, QgsProcessingModelChildParameterSource,
                       QgsProcessingModelOutput, QgsProcessingModelParameter, QgsProcessingParameterMapLayer,
                       QgsProcessingParameterNumber, QgsProcessingParameterRasterLayer,
                       QgsProcessingParameterString)
from qgis.PyQt.QtCore import QPointF  # noqa: E402

PATH = os.path.join(ROOT, "resources", "models", "train_classify_assess.model3")
LAYER_TYPES = [QgsProcessing.SourceType.TypeRaster, QgsProcessing.SourceType.TypeVectorPolygon,
               QgsProcessing.SourceType.TypeVectorLine, QgsProcessing.SourceType.TypeVectorPoint]
HELP = ("Trains the Fast 3D CNN on a hyperspectral raster and its ground truth, classifies the raster with the "
        "new model, and assesses the class map against reference data. Use reference data independent of the "
        "ground truth (other fields, a later survey): the assessment then says how the map does on new ground. "
        "Each step is the algorithm of the same name; their help explains every setting.")


def model_input(model, definition, x, y, help_text):
    definition.setHelp(help_text)
    component = QgsProcessingModelParameter(definition.name())
    component.setPosition(QPointF(x, y))
    model.addModelParameter(definition, component)


def from_input(name):
    return [QgsProcessingModelChildParameterSource.fromModelParameter(name)]


def from_child(child, output):
    return [QgsProcessingModelChildParameterSource.fromChildOutput(child, output)]


def child_step(model, child_id, algorithm, x, y, sources, outputs):
    """Adds the step ``child_id`` running ``algorithm`` fed by ``sources`` ({parameter: sources});
    ``outputs`` ({child output: (model output name, description)}) become the model's outputs."""
    child = QgsProcessingModelChildAlgorithm(algorithm)
    child.setChildId(child_id)
    child.setDescription(QgsApplication.processingRegistry().algorithmById(algorithm).displayName())
    child.setPosition(QPointF(x, y))
    for key, source in sources.items():
        child.addParameterSources(key, source)
    for definition in child.algorithm().parameterDefinitions():  # the rest at their defaults, as the modeler does
        if not definition.isDestination() and definition.name() not in sources and \
                definition.defaultValue() is not None:
            child.addParameterSources(definition.name(),
                                      [QgsProcessingModelChildParameterSource.fromStaticValue(definition.defaultValue())])
    model_outputs = {}
    for output, (name, description) in outputs.items():
        model_output = QgsProcessingModelOutput(name, description)
        model_output.setChildId(child_id)
        model_output.setChildOutputName(output)
        model_output.setPosition(QPointF(x + 160, y + 60))
        model_outputs[name] = model_output
    child.setModelOutputs(model_outputs)
    model.addChildAlgorithm(child)


def build():
    model = QgsProcessingModelAlgorithm("Train, classify and assess", "Fast 3D CNN", "fast3dcnn_models")
    model.setHelpContent({"ALG_DESC": HELP, "ALG_CREATOR": "fast3dcnn_qgis"})
    model_input(model, QgsProcessingParameterRasterLayer("raster", "Hyperspectral raster"), 120, 60,
                "The image to train on and to classify.")
    model_input(model, QgsProcessingParameterMapLayer("ground_truth", "Ground truth", types=LAYER_TYPES), 120, 140,
                "Training labels: a label raster or a vector layer with a class field.")
    model_input(model, QgsProcessingParameterString("class_field", "Class field of the ground truth", optional=True),
                120, 220, "For vector ground truth: the field holding the class.")
    model_input(model, QgsProcessingParameterMapLayer("reference", "Reference data", types=LAYER_TYPES), 120, 300,
                "Reference classes to assess the map against, ideally independent of the ground truth.")
    model_input(model, QgsProcessingParameterString("reference_field", "Class field of the reference", optional=True),
                120, 380, "For vector reference data: the field holding the class.")
    model_input(model, QgsProcessingParameterNumber("window", "Window size (pixels)", defaultValue=11, minValue=9,
                                                    maxValue=31), 120, 460, "Odd window side; the paper uses 11.")
    model_input(model, QgsProcessingParameterNumber("epochs", "Epochs", optional=True, minValue=1), 120, 540,
                "The most passes over the training pixels; empty: the training recipe's (robust 40, paper 50).")
    child_step(model, "train", "fast3dcnn:train", 420, 140, {
        "INPUT": from_input("raster"), "GROUND_TRUTH": from_input("ground_truth"),
        "CLASS_FIELD": from_input("class_field"), "WINDOW_SIZE": from_input("window"),
        "EPOCHS": from_input("epochs")},
        {"OUTPUT_MODEL": ("model", "Model file"), "OUTPUT_REPORT": ("training_report", "Training report")})
    child_step(model, "classify", "fast3dcnn:classify", 420, 300, {
        "INPUT": from_input("raster"), "MODEL": from_child("train", "OUTPUT_MODEL")},
        {"OUTPUT": ("class_map", "Class map")})
    child_step(model, "assess", "fast3dcnn:assess", 420, 460, {
        "INPUT": from_child("classify", "OUTPUT"), "REFERENCE": from_input("reference"),
        "CLASS_FIELD": from_input("reference_field")},
        {"OUTPUT_REPORT": ("assessment_report", "Assessment report")})
    return model


def main():
    app = QgsApplication([], False)
    app.initQgis()
    from fast3dcnn_qgis.provider import Fast3DCNNProvider

    provider = Fast3DCNNProvider()  # kept referenced: the registry does not keep Python providers alive
    QgsApplication.processingRegistry().addProvider(provider)
    model = build()
    for child_id in model.childAlgorithms():
        valid, issues = model.validateChildAlgorithm(child_id)
        if not valid:
            sys.exit(f"step {child_id}: {'; '.join(issues)}")
    os.makedirs(os.path.dirname(PATH), exist_ok=True)
    if not model.toFile(PATH):
        sys.exit(f"could not write {PATH}")
    print(f"wrote {PATH}")


if __name__ == "__main__":
    main()
