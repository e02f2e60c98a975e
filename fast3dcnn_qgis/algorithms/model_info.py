"""``fast3dcnn:modelinfo``: what a model file holds, as a page an analyst can read and file.

A model travels between colleagues, away from the run that made it: before applying one to a scene,
the recipient needs its classes, the bands and wavelengths it expects, its window and components,
how it was trained and how accurate it was, and a checksum that identifies the very file. The model
is read and checked without Keras or scikit-learn, so this works before they are installed.
"""
from qgis.core import QgsProcessingOutputFile, QgsProcessingParameterFile, QgsProcessingParameterFileDestination

from ..reporting.report import the_map, write_model_info
from .base import Fast3DCNNAlgorithm


class ModelInfoAlgorithm(Fast3DCNNAlgorithm):
    MODEL = "MODEL"
    OUTPUT_REPORT = "OUTPUT_REPORT"
    OUTPUT_JSON = "OUTPUT_JSON"

    NAME = "modelinfo"
    REQUIRES = ()
    DISPLAY_NAME = "Model information"
    DESCRIPTION = (
        "Describes a model file written by 'Train 3D CNN classifier': its classes with names and colours, the "
        "input bands it expects (count, the bands kept, their wavelengths), the window and PCA components, the "
        "training settings, split and accuracy (with the SVM and forest baselines when they were computed), "
        "whether its maps fuse the network with a random forest and an SVM it holds, over what radius they are "
        "smoothed and whether they weight the classes against their training shares, the software "
        "versions and Keras backend it was trained with, and the file's size and SHA-256 checksum.\n"
        "The model is checked as 'Classify raster with a trained model' checks it, without building the "
        "network, so a damaged or crafted file is refused with the field at fault.")

    def defineParameters(self):
        self.declare(QgsProcessingParameterFile(
            self.MODEL, self.tr("Model file"), fileFilter=self.tr("Fast 3D CNN model (*.f3dcnn);;All files (*)")),
            self.tr("A model file written by 'Train 3D CNN classifier' (any name it was saved under)."))
        self.declare(QgsProcessingParameterFileDestination(self.OUTPUT_REPORT, self.tr("Model information"),
                                                           self.tr("HTML files (*.html)")),
                     self.tr("Self-contained HTML page; the same facts are written as JSON beside it (same "
                             "name, .json)."))
        self.declareOutput(QgsProcessingOutputFile(self.OUTPUT_JSON, self.tr("Model information (JSON)")),
                           self.tr("The JSON file beside the page."))

    def execute(self, parameters, context, progress):
        from ..core.modelfile import ModelFileError, describe_model

        model_path = self.parameterAsFile(parameters, self.MODEL, context)
        report = self.prepare_destination(
            self.OUTPUT_REPORT, self.parameterAsFileOutput(parameters, self.OUTPUT_REPORT, context))
        with self.concerning(self.MODEL, errors=ModelFileError):
            info = describe_model(model_path)
        progress.log(self.tr("{}: {} classes, window {}, {} components from {} input bands; the map: {}; SHA-256 {}")
                     .format(model_path, len(info["classes"]), info["window"], info["components"],
                             info["input_band_count"], the_map(info), info["file"]["sha256"]))
        html_path, json_path = write_model_info(info, report)
        return {self.OUTPUT_REPORT: html_path, self.OUTPUT_JSON: json_path}
