"""``fast3dcnn:assess``: accuracy of any class map against reference data, with the training report's figures.

Training scores the network on held-out pixels of the training scene; this algorithm scores a
written map against independent reference data (new field plots, another year, another scene),
which is the figure a map's user needs.
"""
import platform

import numpy as np
from osgeo import gdal
from qgis.core import (Qgis, QgsProcessing, QgsProcessingOutputFile, QgsProcessingOutputNumber,
                       QgsProcessingParameterFileDestination, QgsProcessingParameterMapLayer,
                       QgsProcessingParameterRasterLayer, QgsVectorLayer)

from ..core.area_estimation import good_practice_estimates
from ..core.classes import ClassTable
from ..core.errors import InputError
from ..core.metrics import accuracy_report
from ..core.record import RunRecord
from ..gdal_io.ground_truth import GroundTruthError, class_field_problem, read_ground_truth
from ..gdal_io.reading import band_classes, open_raster, pixel_area, raster_info
from ..gdal_io.styles import class_map_preview
from ..reporting.report import write_report
from .base import Fast3DCNNAlgorithm

#: Rows of the class map read at a time.
STRIP_ROWS = 512


class AssessAlgorithm(Fast3DCNNAlgorithm):
    INPUT = "INPUT"
    REFERENCE = "REFERENCE"
    CLASS_FIELD = "CLASS_FIELD"
    OUTPUT_REPORT = "OUTPUT_REPORT"
    OUTPUT_JSON = "OUTPUT_JSON"
    OVERALL_ACCURACY = "OVERALL_ACCURACY"
    AVERAGE_ACCURACY = "AVERAGE_ACCURACY"
    KAPPA = "KAPPA"

    NAME = "assess"
    REQUIRES = ()  # numpy and GDAL, which QGIS has
    DISPLAY_NAME = "Accuracy assessment of a class map"
    DESCRIPTION = (
        "Scores a class map against reference data and writes the figures of the paper: overall accuracy "
        "(OA, share of reference pixels mapped right), average accuracy (AA, mean of the per-class recalls) "
        "and Cohen's kappa, with per-class precision, recall, F1 and support and the confusion matrix.\n"
        "Only pixels the reference labels count. The reference is brought onto the class map's exact pixel "
        "grid: a label raster on another grid is aligned by nearest neighbour (with a warning), a vector "
        "layer is reprojected and rasterised (polygons label the pixels whose centre they contain, points the "
        "pixel they fall in). Reference pixels the map leaves unclassified (nodata) count as errors.\n"
        "Classes are matched by id; when the reference's class field holds text, its names are matched to "
        "the class map's category names instead (ignoring case).\n"
        "The report is a self-contained HTML page with a preview of the map; its JSON twin (same name, .json) "
        "holds the same figures for scripts.")

    def defineParameters(self):
        self.declare(QgsProcessingParameterRasterLayer(self.INPUT, self.tr("Class map")),
                     self.tr("The class map to assess: a single-band raster of integer class ids, 0 or its nodata "
                             "value for unclassified pixels, e.g. the output of 'Classify raster with a trained "
                             "model'. Its category names name the classes in the report."))
        self.declare(QgsProcessingParameterMapLayer(
            self.REFERENCE, self.tr("Reference data"),
            types=[QgsProcessing.SourceType.TypeRaster, QgsProcessing.SourceType.TypeVectorPolygon,
                   QgsProcessing.SourceType.TypeVectorLine, QgsProcessing.SourceType.TypeVectorPoint]),
            self.tr("The reference: a label raster (class ids, 0 = unlabelled) or a polygon, line or point "
                    "layer with a class field. Ideally independent of the data the model was trained on."))
        self.declare_class_field(self.CLASS_FIELD, self.tr("Class field (vector reference)"), self.REFERENCE,
                                 self.tr("For a vector reference: the field holding each feature's class, as "
                                         "integer ids (the map's ids) or as names (matched to the map's class "
                                         "names). Ignored for a raster reference."))
        self.declare(QgsProcessingParameterFileDestination(self.OUTPUT_REPORT, self.tr("Accuracy report"),
                                                           self.tr("HTML files (*.html)")),
                     self.tr("The HTML report; the same figures are written as JSON beside it (same name, "
                             ".json)."))
        self.declareOutput(QgsProcessingOutputFile(self.OUTPUT_JSON, self.tr("Accuracy figures (JSON)")),
                           self.tr("The JSON file beside the report."))
        for key, label, scale in ((self.OVERALL_ACCURACY, "Overall accuracy", "0 to 1"),
                                  (self.AVERAGE_ACCURACY, "Average accuracy", "0 to 1"),
                                  (self.KAPPA, "Kappa", "-1 to 1, 0 = chance agreement")):
            self.declareOutput(QgsProcessingOutputNumber(key, self.tr(label)),
                               self.tr("{} ({}), for use in models.").format(self.tr(label), self.tr(scale)))

    def checkParameterValues(self, parameters, context):
        ok, message = super().checkParameterValues(parameters, context)
        if not ok:
            return ok, message
        reference = self.parameterAsLayer(parameters, self.REFERENCE, context)
        field = self.parameterAsString(parameters, self.CLASS_FIELD, context)
        if isinstance(reference, QgsVectorLayer):
            problem = class_field_problem(reference, field, self.REFERENCE)
            if problem:
                return self.reject(self.CLASS_FIELD, field, problem)
        return True, ""

    def execute(self, parameters, context, progress):
        map_layer = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        report_path = self.prepare_destination(
            self.OUTPUT_REPORT, self.parameterAsFileOutput(parameters, self.OUTPUT_REPORT, context))
        dataset = open_raster(map_layer.source(), self.INPUT)
        info = raster_info(dataset)
        band = dataset.GetRasterBand(1)
        map_classes = band_classes(band)

        progress.log(self.tr("Reading the reference on the class map's grid ({})").format(info.describe()))
        grid, reference_classes, source = self._reference(parameters, context, info, map_classes, progress)
        progress.progress(0.2)
        expected, mapped, map_pixels = self._labelled_pairs(band, grid, info, progress)

        class_ids = np.union1d(np.unique(expected), np.unique(mapped[mapped > 0]))
        # The strata of the good-practice estimates are all the map's classes, sampled or not.
        strata_ids = np.union1d(class_ids, np.array(sorted(map_pixels), dtype=np.int64))
        names = {c.id: c.label for c in map_classes.merged(reference_classes).subset(strata_ids)}
        classes = map_classes.merged(reference_classes).subset(class_ids)
        figures = accuracy_report(expected, mapped, class_ids, names)
        progress.log(self.tr("OA {:.2%}, AA {:.2%}, kappa {:.4f} on {} reference pixels").format(
            figures["overall_accuracy"], figures["average_accuracy"], figures["kappa"], figures["n_pixels"]))
        estimates = _good_practice(expected, mapped, map_pixels, strata_ids, names, info)
        if "overall_accuracy" in estimates:
            progress.log(self.tr("Good practice (area-weighted): OA {:.2%} ± {:.2%}").format(
                estimates["overall_accuracy"], estimates["overall_ci95"]))
        else:
            progress.warn(estimates["not_computed"])
        record = RunRecord(figures, classes, inputs={"class_map": info.path, "reference": source},
                           versions={"python": platform.python_version(), "numpy": np.__version__,
                                     "GDAL": gdal.__version__, "QGIS": Qgis.QGIS_VERSION},
                           area_estimates=estimates)
        progress.progress(0.85)
        html_path, json_path = write_report(record, report_path, class_map_preview(info.path),
                                            title=self.tr("Accuracy assessment of {}").format(map_layer.name()))
        progress.progress(1.0)
        return {self.OUTPUT_REPORT: html_path, self.OUTPUT_JSON: json_path,
                self.OVERALL_ACCURACY: figures["overall_accuracy"],
                self.AVERAGE_ACCURACY: figures["average_accuracy"], self.KAPPA: figures["kappa"]}

    def _reference(self, parameters, context, info, map_classes, progress):
        """The reference's label grid on the map's grid, its classes and its source. Text class names
        are matched to the map's category names, so the grid then holds the map's ids."""
        reference = self.parameterAsLayer(parameters, self.REFERENCE, context)
        class_field = self.parameterAsString(parameters, self.CLASS_FIELD, context) or None
        truth = read_ground_truth(reference, info, class_field, context.transformContext(), progress.warn,
                                  self.REFERENCE, self.CLASS_FIELD)
        grid, classes = truth.grid, truth.classes
        if _text_field(reference, class_field):
            grid, names = _match_names(grid, truth.classes.names, map_classes.names, progress.warn)
            classes = ClassTable.from_ids(names, names)
        if not (grid != 0).any():
            raise GroundTruthError(f"{self.REFERENCE} ({truth.source}) labels no pixel of the class map: check "
                                   f"that both cover the same area")
        return grid, classes, truth.source

    def _labelled_pairs(self, band, grid, info, progress):
        """(reference ids, mapped ids) at the reference's labelled pixels, unclassified (nodata,
        non-finite) as 0, and the map's pixels per class id over the whole map ({id: pixels}, 0 left out)."""
        expected, mapped, map_pixels = [], [], {}
        nodata = band.GetNoDataValue()
        for row in range(0, info.height, STRIP_ROWS):
            progress.check_cancel()
            labelled = grid[row:row + STRIP_ROWS] != 0
            strip = band.ReadAsArray(0, row, info.width, labelled.shape[0])
            if strip is None:
                raise OSError(f"{self.INPUT}: reading '{info.path}' failed: {gdal.GetLastErrorMsg()}")
            values = strip.astype(np.float64)
            if nodata is not None:
                values[values == nodata] = 0
            values[~np.isfinite(values) | (values < 0)] = 0
            values = values.astype(np.int64)
            for class_id, count in zip(*np.unique(values, return_counts=True)):
                map_pixels[int(class_id)] = map_pixels.get(int(class_id), 0) + int(count)
            expected.append(grid[row:row + STRIP_ROWS][labelled])
            mapped.append(values[labelled])
            progress.progress(0.2 + 0.6 * min(info.height, row + STRIP_ROWS) / info.height)
        map_pixels.pop(0, None)
        return np.concatenate(expected), np.concatenate(mapped), map_pixels


def _good_practice(expected, mapped, map_pixels, class_ids, names, info):
    """core.area_estimation's estimates for this map (strata: its classes) and these reference
    pixels, or {"not_computed": why}. Reference pixels the map leaves unclassified are in no stratum
    and are left out of these estimates (they count as errors in the plain figures)."""
    sampled = mapped > 0
    index = {int(c): i for i, c in enumerate(class_ids)}
    counts = np.zeros((len(class_ids), len(class_ids)), dtype=np.int64)
    np.add.at(counts, ([index[int(c)] for c in mapped[sampled]], [index[int(c)] for c in expected[sampled]]), 1)
    area, unit = pixel_area(info)
    mapped_pixels = [map_pixels.get(int(c), 0) for c in class_ids]
    try:
        estimates = good_practice_estimates(counts, mapped_pixels, area, unit, class_ids, names)
    except InputError as error:
        return {"not_computed": f"No good-practice (area-weighted) estimates: {error}."}
    estimates["n_reference_unclassified"] = int((~sampled).sum())
    return estimates


def _text_field(layer, class_field):
    if not class_field or not isinstance(layer, QgsVectorLayer):
        return False
    index = layer.fields().lookupField(class_field)
    return index >= 0 and not layer.fields().at(index).isNumeric()


def _match_names(grid, reference_names, map_names, warn):
    """(grid, {id: name}): the reference grid with its name-numbered ids replaced by the class map's
    ids of the same names. Names the map does not know get ids above the map's, so their pixels count
    as errors.
    """
    if not map_names:
        raise GroundTruthError("CLASS_FIELD holds class names but the class map (INPUT) has no category names to "
                               "match them with: use a field of integer class ids, or a class map written by "
                               "'Classify raster with a trained model'")
    by_name = {name.casefold(): class_id for class_id, name in map_names.items()}
    next_id = max(map_names) + 1
    lookup = np.zeros(max(reference_names, default=0) + 1, dtype=np.int64)
    names = {}
    for ref_id, name in sorted(reference_names.items()):
        if name.casefold() in by_name:
            lookup[ref_id] = by_name[name.casefold()]
        else:
            lookup[ref_id], next_id = next_id, next_id + 1
        names[int(lookup[ref_id])] = name
    unknown = [name for class_id, name in names.items() if class_id not in map_names]
    if unknown:
        warn(f"reference classes not in the class map, counted as errors: {', '.join(unknown)} "
             f"(the map's classes: {', '.join(map_names.values())})")
    return lookup[grid], names
