"""``fast3dcnn:suggest``: where the analyst's next labels help the model most, as points to label in QGIS.

The model classifies the raster; the points go where its two most likely classes are closest, spread
over the scene and shared out over the predicted classes (core.suggestions says why, and
tests/benchmarks/bench_suggest.py what it gains against random labels). The analyst types each point's
class and trains again with the points as ``LABELLED_POINTS``.
"""
import os

import numpy as np
from qgis.core import (QgsProcessing, QgsProcessingParameterEnum, QgsProcessingParameterFile,
                       QgsProcessingParameterMapLayer, QgsProcessingParameterNumber,
                       QgsProcessingParameterRasterLayer, QgsProcessingParameterVectorDestination)

from ..core.errors import InputError
from ..core.modelfile import ModelFileError
from ..core.settings import PRECISIONS
from ..core.suggestions import CHOICES, DEFAULT_RULE
from ..gdal_io.band_matching import matched_bands
from ..gdal_io.reading import open_raster, raster_info
from ..gdal_io.styles import style_path
from ..gdal_io.suggested_points import DEFAULT_CLASS_FIELD, write_points
from .base import Fast3DCNNAlgorithm, load_with_style

#: Of each block of the scene, the most uncertain pixels kept as candidates, per point asked for.
CANDIDATES_PER_POINT = 20


class SuggestAlgorithm(Fast3DCNNAlgorithm):
    INPUT = "INPUT"
    MODEL = "MODEL"
    GROUND_TRUTH = "GROUND_TRUTH"
    CLASS_FIELD = "CLASS_FIELD"
    POINTS = "POINTS"
    SPACING = "SPACING"
    RULE = "RULE"
    PRECISION = "PRECISION"
    OUTPUT = "OUTPUT"

    NAME = "suggest"
    DISPLAY_NAME = "Suggest where to label next"
    DESCRIPTION = (
        "Proposes the places where a new label would teach a trained model most: the areas where the network "
        "hesitates most between its two most likely classes, the farther from your labels the better, kept "
        "apart from each other, so that an hour of labelling covers the unsure ground your labels have not "
        "reached.\n"
        "The result is a point layer (GeoPackage) with an empty class field: look at each point on your "
        "imagery, type its class (id or name), then run 'Train 3D CNN classifier' again with the layer as "
        "'Labelled suggested points'. Each point carries its rank, the class the model predicts there and its "
        "confidence, the runner-up class and, in words, why it was chosen.")

    def defineParameters(self):
        self.declare(QgsProcessingParameterRasterLayer(self.INPUT, self.tr("Hyperspectral raster")),
                     self.tr("The raster to suggest points on, with the bands of the raster the model was "
                             "trained on. It must be georeferenced: the points are placed on the map."))
        self.declare(QgsProcessingParameterFile(
            self.MODEL, self.tr("Model file"), fileFilter=self.tr("Fast 3D CNN model (*.f3dcnn);;All files (*)")),
            self.tr("A model file written by 'Train 3D CNN classifier'."))
        self.declare(QgsProcessingParameterNumber(self.POINTS, self.tr("Number of points"), minValue=1,
                                                  maxValue=10000, defaultValue=50),
                     self.tr("How many points to propose (fewer where the scene has not enough pixels that "
                             "keep the spacing)."))
        self.declare(QgsProcessingParameterMapLayer(
            self.GROUND_TRUTH, self.tr("Existing ground truth"), optional=True,
            types=[QgsProcessing.SourceType.TypeRaster, QgsProcessing.SourceType.TypeVectorPolygon,
                   QgsProcessing.SourceType.TypeVectorLine, QgsProcessing.SourceType.TypeVectorPoint]),
            self.tr("The labels you already have (a label raster, or polygons, lines or points with a class "
                    "field): no point is proposed on a labelled pixel or next to one."))
        self.declare_class_field(self.CLASS_FIELD, self.tr("Class field (vector ground truth)"), self.GROUND_TRUTH,
                                 self.tr("The field of the existing ground truth that holds each feature's class; "
                                         "needed only for a vector ground truth."))
        self.declare(QgsProcessingParameterNumber(self.SPACING, self.tr("Minimum spacing (pixels)"), minValue=0,
                                                  maxValue=10000, optional=True),
                     self.tr("No two points closer than this many pixels along rows or columns. Empty: the "
                             "model's window, so that no two points share a patch."))
        self.declare(QgsProcessingParameterEnum(self.RULE, self.tr("How points are chosen"), options=list(CHOICES),
                                                defaultValue=CHOICES.index(DEFAULT_RULE)),
                     self.tr("coverage (measured best): the areas the network is unsure of, the farther from the "
                             "labels and the points already chosen the better. area: the centres of the areas it is least sure "
                             "of. balanced: the least sure pixels of each predicted class in turn. margin: the "
                             "least sure pixels whatever their class."), advanced=True)
        self.declare(QgsProcessingParameterEnum(self.PRECISION, self.tr("Arithmetic"), options=list(PRECISIONS),
                                                defaultValue=0),
                     self.tr("As in 'Classify raster with a trained model': auto computes in bfloat16 where the "
                             "processor does so natively."), advanced=True)
        self.declare(QgsProcessingParameterVectorDestination(
            self.OUTPUT, self.tr("Points to label"), type=QgsProcessing.SourceType.TypeVectorPoint),
            self.tr("A GeoPackage of points, styled to stand out, each labelled with its rank."))

    def checkParameterValues(self, parameters, context):
        ok, message = super().checkParameterValues(parameters, context)
        if ok:
            output = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
            if output and not output.lower().endswith(".gpkg"):
                return self.reject(self.OUTPUT, output, self.tr("the points are written as a GeoPackage: give a "
                                                                "file name ending in .gpkg"))
        return ok, message

    def execute(self, parameters, context, progress):
        from ..core.modelfile import load_classifier
        from ..core.precision import training_dtype

        layer = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        output = self.prepare_destination(self.OUTPUT, self.parameterAsOutputLayer(parameters, self.OUTPUT, context))
        dataset = open_raster(layer.source(), self.INPUT)
        info = raster_info(dataset)
        if not info.georeferenced:
            raise InputError(self.tr("{} ('{}') has no georeferencing, so the points cannot be placed on the map: "
                                     "georeference the raster first").format(self.INPUT, layer.name()))
        with self.concerning(self.MODEL, errors=ModelFileError):
            classifier = load_classifier(self.parameterAsFile(parameters, self.MODEL, context))
        labelled = self._labelled(parameters, context, info, progress)
        spacing = classifier.window if parameters.get(self.SPACING) in (None, "") else \
            self.parameterAsInt(parameters, self.SPACING, context)
        n_points = self.parameterAsInt(parameters, self.POINTS, context)
        rule = CHOICES[self.parameterAsEnum(parameters, self.RULE, context)]
        precision = PRECISIONS[self.parameterAsEnum(parameters, self.PRECISION, context)]
        progress.log(self.tr("Classifying {} to find where the model is least sure").format(layer.name()))
        with matched_bands(classifier, dataset, info, f"{self.INPUT} ('{layer.name()}')", progress.log) as matched:
            points = self._points(*matched, labelled, n_points, spacing, rule, training_dtype(precision),
                                  progress.part(0.0, 0.95))
        class_field = (classifier.record.inputs.get("class_field") if classifier.record else "") or DEFAULT_CLASS_FIELD
        write_points(output, info, class_field, points)
        self._write_style(output)
        progress.log(self.tr("{} points to label, at least {} pixels apart ({}); type each one's class in the "
                             "field '{}'").format(len(points), spacing, rule, class_field))
        if len(points) < n_points:
            progress.warn(self.tr("Only {} of the {} points asked for keep {} pixels from each other and from the "
                                  "labelled pixels: lower {} for more").format(len(points), n_points, spacing,
                                                                              self.SPACING))
        load_with_style(context, output, style_path(output))
        return {self.OUTPUT: output}

    def _labelled(self, parameters, context, info, progress):
        """The (H, W) mask of the labelled pixels, or None without ground truth."""
        layer = self.parameterAsLayer(parameters, self.GROUND_TRUTH, context)
        if layer is None:
            return None
        from ..gdal_io.ground_truth import read_ground_truth

        truth = read_ground_truth(layer, info, self.parameterAsString(parameters, self.CLASS_FIELD, context) or None,
                                  context.transformContext(), progress.warn)
        return truth.grid != 0

    def _points(self, classifier, dataset, info, labelled, n_points, spacing, rule, dtype, progress):
        """The chosen points as dicts of write_points's fields, best first: never on a ``labelled`` pixel
        nor next to one. ``dtype``: the arithmetic of the network's prediction (core.precision)."""
        from scipy.ndimage import binary_dilation

        from ..core.suggestions import SuggestionPool, choose, reason
        from ..gdal_io.class_maps import scene_predictions

        pool = SuggestionPool(len(classifier.class_ids), CANDIDATES_PER_POINT * n_points, classifier.window)
        near = None if labelled is None else binary_dilation(labelled, structure=[[1, 1, 1]] * 3)
        for prediction in scene_predictions(classifier, dataset, info, dtype, progress):
            rows, cols = prediction.labels.shape
            top, left = prediction.block.row, prediction.block.col
            valid = prediction.labels != 0
            usable = valid if near is None else valid & ~near[top:top + rows, left:left + cols]
            pool.add(top, left, prediction.probabilities, valid, usable)
        candidates = pool.candidates()
        chosen = choose(candidates, n_points, spacing, rule, labelled=None if labelled is None else np.nonzero(labelled))
        names = [classifier.classes.name(int(class_id)) for class_id in classifier.class_ids]
        first, second = candidates.ranked
        who = "the network with its forest and SVM" if classifier.forest and classifier.svm else \
            "the network with its forest" if classifier.forest else "the network"
        points = []
        for rank, index in enumerate(chosen, start=1):
            probabilities = candidates.probabilities[index]
            points.append({"rank": rank, "predicted": names[first[index]],
                           "predicted_id": int(classifier.class_ids[first[index]]),
                           "confidence": round(100 * float(probabilities[first[index]]), 1),
                           "runner_up": names[second[index]],
                           "runner_up_probability": round(100 * float(probabilities[second[index]]), 1),
                           "reason": reason(probabilities, names, rule, who), "row": int(candidates.rows[index]),
                           "col": int(candidates.cols[index])})
        return points

    def _write_style(self, path):
        """The .qml beside the points: large magenta markers with a white rim, labelled with their rank."""
        from qgis.core import (QgsMarkerSymbol, QgsPalLayerSettings, QgsSingleSymbolRenderer, QgsTextBufferSettings,
                               QgsTextFormat, QgsVectorLayer, QgsVectorLayerSimpleLabeling)
        from qgis.PyQt.QtGui import QColor

        layer = QgsVectorLayer(path, "points", "ogr")
        layer.setRenderer(QgsSingleSymbolRenderer(QgsMarkerSymbol.createSimple(
            {"name": "star", "color": "255,0,200", "outline_color": "255,255,255", "outline_width": "0.4",
             "size": "5"})))
        settings = QgsPalLayerSettings()
        settings.fieldName = "rank"
        text = QgsTextFormat()
        text.setSize(10)
        text.setColor(QColor("#202020"))
        buffer = QgsTextBufferSettings()
        buffer.setEnabled(True)
        buffer.setSize(1.0)
        buffer.setColor(QColor("white"))
        text.setBuffer(buffer)
        settings.setFormat(text)
        layer.setLabeling(QgsVectorLayerSimpleLabeling(settings))
        layer.setLabelsEnabled(True)
        style = style_path(path)
        temporary = style + ".part.qml"
        message, saved = layer.saveNamedStyle(temporary)
        if not saved:
            raise InputError(self.tr("{}: cannot write the style '{}' ({})").format(self.OUTPUT, style, message))
        os.replace(temporary, style)
