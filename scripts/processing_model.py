"""Writes the Processing models shipped with the plugin in resources/models/:

- train_classify_assess.model3: train on a raster and its ground truth, classify the raster with the
  new model, and assess the map against independent reference data;
- train_classify_suggest.model3: the labelling loop: train (with the points labelled in the last
  round, if any), classify, and suggest where to label next, so that one run gives the map, its
  report and the next points to label.

Built through QGIS's model API rather than edited by hand, so that every child parameter is one the
algorithms really have; rerun after changing them:

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
                       QgsProcessingParameterString, QgsProcessingParameterVectorLayer)
from qgis.PyQt.QtCore import QPointF  # noqa: E402

FOLDER = os.path.join(ROOT, "resources", "models")
LAYER_TYPES = [QgsProcessing.SourceType.TypeRaster, QgsProcessing.SourceType.TypeVectorPolygon,
               QgsProcessing.SourceType.TypeVectorLine, QgsProcessing.SourceType.TypeVectorPoint]
ASSESS_HELP = ("Trains the Fast 3D CNN on a hyperspectral raster and its ground truth, classifies the raster with the "
        "new model, and assesses the class map against reference data. Use reference data independent of the "
        "ground truth (other fields, a later survey): the assessment then says how the map does on new ground. "
        "Each step is the algorithm of the same name; their help explains every setting.")
SUGGEST_HELP = ("One round of labelling: trains the Fast 3D CNN on a hyperspectral raster and its ground truth (plus "
                "the suggested points you labelled after the last round, if any), classifies the raster with the new "
                "model, and suggests where to label next. Type the class of each new point on your imagery, then run "
                "the model again with that layer as 'Labelled suggested points'. Each step is the algorithm of the "
                "same name; their help explains every setting.")


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


def common_inputs(model):
    """The inputs both models share: the raster, its ground truth and class field, window and epochs."""
    model_input(model, QgsProcessingParameterRasterLayer("raster", "Hyperspectral raster"), 120, 60,
                "The image to train on and to classify.")
    model_input(model, QgsProcessingParameterMapLayer("ground_truth", "Ground truth", types=LAYER_TYPES), 120, 140,
                "Training labels: a label raster or a vector layer with a class field.")
    model_input(model, QgsProcessingParameterString("class_field", "Class field of the ground truth", optional=True),
                120, 220, "For vector ground truth: the field holding the class.")
    model_input(model, QgsProcessingParameterNumber("window", "Window size (pixels)", defaultValue=11, minValue=9,
                                                    maxValue=31), 120, 460, "Odd window side; the paper uses 11.")
    model_input(model, QgsProcessingParameterNumber("epochs", "Epochs", optional=True, minValue=1), 120, 540,
                "The most passes over the training pixels; empty: the training recipe's (robust 40, paper 50).")


def train_and_classify(model, more=None):
    """The train and classify steps on the common inputs; ``more`` adds train sources."""
    child_step(model, "train", "fast3dcnn:train", 420, 140, {
        "INPUT": from_input("raster"), "GROUND_TRUTH": from_input("ground_truth"),
        "CLASS_FIELD": from_input("class_field"), "WINDOW_SIZE": from_input("window"),
        "EPOCHS": from_input("epochs"), **(more or {})},
        {"OUTPUT_MODEL": ("model", "Model file"), "OUTPUT_REPORT": ("training_report", "Training report")})
    child_step(model, "classify", "fast3dcnn:classify", 420, 300, {
        "INPUT": from_input("raster"), "MODEL": from_child("train", "OUTPUT_MODEL")},
        {"OUTPUT": ("class_map", "Class map")})


def build_assess():
    model = QgsProcessingModelAlgorithm("Train, classify and assess", "Fast 3D CNN", "fast3dcnn_models")
    model.setHelpContent({"ALG_DESC": ASSESS_HELP, "ALG_CREATOR": "fast3dcnn_qgis"})
    common_inputs(model)
    model_input(model, QgsProcessingParameterMapLayer("reference", "Reference data", types=LAYER_TYPES), 120, 300,
                "Reference classes to assess the map against, ideally independent of the ground truth.")
    model_input(model, QgsProcessingParameterString("reference_field", "Class field of the reference", optional=True),
                120, 380, "For vector reference data: the field holding the class.")
    train_and_classify(model)
    child_step(model, "assess", "fast3dcnn:assess", 420, 460, {
        "INPUT": from_child("classify", "OUTPUT"), "REFERENCE": from_input("reference"),
        "CLASS_FIELD": from_input("reference_field")},
        {"OUTPUT_REPORT": ("assessment_report", "Assessment report")})
    return model


def build_suggest():
    model = QgsProcessingModelAlgorithm("Train, classify and suggest labels", "Fast 3D CNN", "fast3dcnn_models")
    model.setHelpContent({"ALG_DESC": SUGGEST_HELP, "ALG_CREATOR": "fast3dcnn_qgis"})
    common_inputs(model)
    model_input(model, QgsProcessingParameterVectorLayer("labelled_points", "Labelled suggested points",
                                                         types=[QgsProcessing.SourceType.TypeVectorPoint],
                                                         optional=True), 120, 300,
                "The points of the last round with their classes typed in; empty in the first round.")
    model_input(model, QgsProcessingParameterNumber("points", "Number of points to suggest", defaultValue=50,
                                                    minValue=1), 120, 380, "How many points to label next.")
    train_and_classify(model, {"LABELLED_POINTS": from_input("labelled_points")})
    child_step(model, "suggest", "fast3dcnn:suggest", 420, 460, {
        "INPUT": from_input("raster"), "MODEL": from_child("train", "OUTPUT_MODEL"),
        "GROUND_TRUTH": from_input("ground_truth"), "CLASS_FIELD": from_input("class_field"),
        "POINTS": from_input("points")},
        {"OUTPUT": ("points_to_label", "Points to label")})
    return model


def main():
    app = QgsApplication([], False)
    app.initQgis()
    from fast3dcnn_qgis.provider import Fast3DCNNProvider

    provider = Fast3DCNNProvider()  # kept referenced: the registry does not keep Python providers alive
    QgsApplication.processingRegistry().addProvider(provider)
    for name, build in (("train_classify_assess", build_assess), ("train_classify_suggest", build_suggest)):
        model = build()
        for child_id in model.childAlgorithms():
            valid, issues = model.validateChildAlgorithm(child_id)
            if not valid:
                sys.exit(f"{name}, step {child_id}: {'; '.join(issues)}")
        path = os.path.join(FOLDER, f"{name}.model3")
        os.makedirs(FOLDER, exist_ok=True)
        if not model.toFile(path):
            sys.exit(f"could not write {path}")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
