"""``fast3dcnn:train``: the paper's recipe on the user's raster and ground truth, ending in a model
file, an accuracy report and, if asked, the class map of the scene."""
import os
import tempfile

from qgis.core import (QgsProcessing, QgsProcessingOutputFile, QgsProcessingOutputNumber,
                       QgsProcessingParameterBoolean, QgsProcessingParameterDefinition,
                       QgsProcessingParameterEnum, QgsProcessingParameterFileDestination,
                       QgsProcessingParameterMapLayer, QgsProcessingParameterNumber,
                       QgsProcessingParameterRasterDestination, QgsProcessingParameterRasterLayer,
                       QgsProcessingParameterString, QgsProcessingUtils, QgsVectorLayer)

from .algorithm_base import Cancelled, Fast3DCNNAlgorithm, load_with_style
from .alg_classify import check_output_extension, classify_scene
from .core.bands import BandRangeError, format_band_ranges, parse_band_ranges
from .dependencies import compute_device
from .ground_truth import class_field_problem, read_ground_truth
from .palette import class_colors
from .raster_io import empty_bands, open_raster, raster_info, read_blocks, style_path

#: The smallest window and the fewest components the network accepts: core.network.min_window() and
#: min_band_count() + 1, written out because importing core.network loads Keras, which
#: checkParameterValues must not do on the GUI thread (a test keeps the values in step).
MIN_WINDOW = 9
MIN_COMPONENTS = 15
#: Reduced cubes larger than this, or than a quarter of the memory available when training starts,
#: are kept in a temporary memory-mapped file instead of memory.
SPILL_BYTES = 2 * 2 ** 30

SPLITS = ("paper", "fraction", "count", "disjoint")


class TrainAlgorithm(Fast3DCNNAlgorithm):
    INPUT = "INPUT"
    GROUND_TRUTH = "GROUND_TRUTH"
    CLASS_FIELD = "CLASS_FIELD"
    BANDS = "BANDS"
    WINDOW_SIZE = "WINDOW_SIZE"
    COMPONENTS = "COMPONENTS"
    EPOCHS = "EPOCHS"
    BATCH_SIZE = "BATCH_SIZE"
    LEARNING_RATE = "LEARNING_RATE"
    DROPOUT = "DROPOUT"
    SPLIT = "SPLIT"
    SPLIT_VALUE = "SPLIT_VALUE"
    SEED = "SEED"
    KEEP_BEST = "KEEP_BEST"
    OUTPUT_MODEL = "OUTPUT_MODEL"
    OUTPUT_REPORT = "OUTPUT_REPORT"
    OUTPUT = "OUTPUT"
    OUTPUT_CONFIDENCE = "OUTPUT_CONFIDENCE"
    OUTPUT_JSON = "OUTPUT_JSON"
    OVERALL_ACCURACY = "OVERALL_ACCURACY"
    AVERAGE_ACCURACY = "AVERAGE_ACCURACY"
    KAPPA = "KAPPA"

    NAME = "train"
    DISPLAY_NAME = "Train 3D CNN classifier"
    DESCRIPTION = (
        "Trains the Fast 3D CNN of M. Ahmad (2020) on a hyperspectral raster and ground truth, and saves the "
        "model for 'Classify raster with a trained model'.\n"
        "Steps: the bands are reduced by an incremental PCA fitted on the whole scene; the labelled pixels are "
        "split into training, validation and test sets; the network learns from the window of pixels around "
        "each training pixel; the test pixels, never used in training, give the overall accuracy (OA), average "
        "accuracy (AA) and kappa of the report. With the random splits (paper, fraction, count) test pixels lie "
        "next to training pixels, which flatters the figures; the disjoint split holds out whole areas and "
        "gives the accuracy to expect on new ground.\n"
        "Pixels that are nodata in any used band are left out; bands that hold only nodata are found and "
        "excluded automatically. Training time grows with the number of labelled pixels, the window size and "
        "the epochs; TensorFlow uses all CPU cores.")

    def defineParameters(self):
        advanced = []
        self.declare(QgsProcessingParameterRasterLayer(self.INPUT, self.tr("Hyperspectral raster")),
                     self.tr("The image to learn from: one band per wavelength, any format GDAL reads. Its "
                             "nodata value marks pixels to ignore."))
        self.declare(QgsProcessingParameterMapLayer(
            self.GROUND_TRUTH, self.tr("Ground truth"),
            types=[QgsProcessing.TypeRaster, QgsProcessing.TypeVectorPolygon, QgsProcessing.TypeVectorLine,
                   QgsProcessing.TypeVectorPoint]),
            self.tr("Reference classes: a label raster (class ids, 0 = unlabelled; on the raster's grid, or "
                    "georeferenced so it can be aligned) or a polygon, line or point layer with a class "
                    "field. Polygons label the pixels whose centre they contain, lines the pixels they cross, points "
                    "the pixel they fall in; where features overlap the smaller one wins (polygons, then lines, "
                    "then points). Vector layers in another CRS are reprojected."))
        # A text parameter, not a field picker: QGIS's field widget can crash when its parent layer
        # parameter accepts rasters, as this one must.
        self.declare(QgsProcessingParameterString(self.CLASS_FIELD, self.tr("Class field (vector ground truth)"),
                                                  optional=True),
                     self.tr("Name of the field of the vector ground truth that holds the class: integer ids "
                             "(1 or more) or text names (numbered 1, 2, ... in alphabetical order; the names "
                             "are kept). Features with an empty value are skipped. Not used for a label raster."))
        self.declare(QgsProcessingParameterString(self.BANDS, self.tr("Bands to exclude"), optional=True),
                     self.tr("1-based bands and ranges to leave out, e.g. noisy water-absorption bands: "
                             "108-112,154-167,224 for the 224-band AVIRIS scenes. Empty keeps every band."))
        self.declare(QgsProcessingParameterNumber(self.WINDOW_SIZE, self.tr("Window size (pixels)"),
                                                  QgsProcessingParameterNumber.Integer, 11, False,
                                                  MIN_WINDOW, 31),
                     self.tr("Side S of the S x S window around each pixel that the network sees; odd. Larger "
                             "windows use more spatial context but blur class edges and train slower. The "
                             "paper uses 11; the network needs at least 9."))
        self.declare(QgsProcessingParameterNumber(self.COMPONENTS, self.tr("PCA components"),
                                                  QgsProcessingParameterNumber.Integer, 20, False,
                                                  MIN_COMPONENTS, 200),
                     self.tr("Number of principal components the bands are reduced to before the network. "
                             "The paper uses 20; at least 15 are needed."))
        self.declare(QgsProcessingParameterNumber(self.EPOCHS, self.tr("Epochs"),
                                                  QgsProcessingParameterNumber.Integer, 50, False, 1, 10000),
                     self.tr("Passes over the training pixels. The paper uses 50; fewer train faster and "
                             "usually lose a little accuracy."))
        advanced.append(self.declare(QgsProcessingParameterNumber(
            self.BATCH_SIZE, self.tr("Batch size"), QgsProcessingParameterNumber.Integer, 256, False, 1, 65536),
            self.tr("Training patches per update step (the paper: 256). Smaller batches need less memory.")))
        advanced.append(self.declare(QgsProcessingParameterNumber(
            self.LEARNING_RATE, self.tr("Learning rate"), QgsProcessingParameterNumber.Double, 0.001, False,
            1e-7, 1.0),
            self.tr("Step size of the Adam optimiser (the paper: 0.001).")))
        advanced.append(self.declare(QgsProcessingParameterNumber(
            self.DROPOUT, self.tr("Dropout"), QgsProcessingParameterNumber.Double, 0.4, False, 0.0, 0.9),
            self.tr("Share of the dense layers' units switched off at random during training, against "
                    "over-fitting (the paper's code: 0.4).")))
        self.declare(QgsProcessingParameterEnum(self.SPLIT, self.tr("Split of the labelled pixels"),
                                                list(SPLITS), defaultValue=0),
                     self.tr("paper: per class 30% test, the rest halved into training and validation (the "
                             "paper's text). fraction: a share of each class for training, the rest halved into "
                             "validation and test. count: a number of pixels per class for training, the rest "
                             "halved. disjoint: per class a contiguous area held out for test, with training "
                             "pixels whose window would reach a test pixel dropped, for honest figures."))
        self.declare(QgsProcessingParameterNumber(self.SPLIT_VALUE, self.tr("Split value"),
                                                  QgsProcessingParameterNumber.Double, None, True, 0.0),
                     self.tr("For fraction: the training share of each class (0 to 1, e.g. 0.1). For count: "
                             "training pixels per class (e.g. 50). For disjoint: the test share of each class "
                             "(default 0.3). Not used by paper."))
        advanced.append(self.declare(QgsProcessingParameterNumber(
            self.SEED, self.tr("Random seed"), QgsProcessingParameterNumber.Integer, 0, False, 0),
            self.tr("Seed of the split, the weight initialisation and the batch order: the same data, settings "
                    "and seed give the same model on the same machine.")))
        advanced.append(self.declare(QgsProcessingParameterBoolean(
            self.KEEP_BEST, self.tr("Keep the best epoch"), False),
            self.tr("Keep the network of the epoch with the highest validation accuracy instead of the last.")))
        for definition in advanced:
            definition.setFlags(definition.flags() | QgsProcessingParameterDefinition.FlagAdvanced)

        self.declare(QgsProcessingParameterFileDestination(self.OUTPUT_MODEL, self.tr("Model file"),
                                                           self.tr("Fast 3D CNN model (*.f3dcnn)")),
                     self.tr("The trained model (.f3dcnn): band selection, PCA, network, classes with names and "
                             "colours, settings and accuracy. Classify rasters with it."))
        self.declare(QgsProcessingParameterFileDestination(self.OUTPUT_REPORT, self.tr("Accuracy report"),
                                                           self.tr("HTML files (*.html)")),
                     self.tr("Self-contained HTML page: OA, AA, kappa, per-class table, confusion matrix, "
                             "training curves, settings and timings; the same figures as JSON beside it."))
        self.declare(QgsProcessingParameterRasterDestination(self.OUTPUT, self.tr("Class map"), optional=True,
                                                             createByDefault=False),
                     self.tr("Classify the whole raster right after training and write the class map "
                             "(GeoTIFF with colours, names and a .qml style beside it)."))
        self.declare(QgsProcessingParameterRasterDestination(self.OUTPUT_CONFIDENCE, self.tr("Confidence"),
                                                             optional=True, createByDefault=False),
                     self.tr("With the class map: a float32 GeoTIFF of the network's probability for "
                             "the class it chose (0 to 1)."))
        self.declareOutput(QgsProcessingOutputFile(self.OUTPUT_JSON, self.tr("Accuracy figures (JSON)")),
                           self.tr("The JSON file beside the report."))
        for key, label in ((self.OVERALL_ACCURACY, self.tr("Overall accuracy")),
                           (self.AVERAGE_ACCURACY, self.tr("Average accuracy")), (self.KAPPA, self.tr("Kappa"))):
            self.declareOutput(QgsProcessingOutputNumber(key, label),
                               self.tr("{} on the test pixels (1 = perfect), for use in models.").format(label))

    # -- checks before anything runs ---------------------------------------------------------
    def checkParameterValues(self, parameters, context):
        ok, message = super().checkParameterValues(parameters, context)
        if not ok:
            return ok, message
        window = self.parameterAsInt(parameters, self.WINDOW_SIZE, context)
        if window % 2 == 0:
            return self.reject(self.WINDOW_SIZE, window, self.tr("the window must be odd so that it centres on "
                                                                 "its pixel: use {} or {}").format(window - 1, window + 1))
        layer = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        components = self.parameterAsInt(parameters, self.COMPONENTS, context)
        if layer is not None:
            bands_text = self.parameterAsString(parameters, self.BANDS, context)
            try:
                excluded = parse_band_ranges(bands_text, layer.bandCount())
            except BandRangeError as error:
                return self.reject(self.BANDS, bands_text, str(error))
            kept = layer.bandCount() - len(excluded)
            if kept < components:
                return self.reject(self.COMPONENTS, components, self.tr(
                    "only {} bands are left after excluding '{}': choose at most {} components or exclude "
                    "fewer bands").format(kept, bands_text, kept))
            if window > min(layer.width(), layer.height()):
                return self.reject(self.WINDOW_SIZE, window, self.tr(
                    "the raster is only {} x {} pixels: choose a smaller odd window").format(
                        layer.width(), layer.height()))
        split = SPLITS[self.parameterAsEnum(parameters, self.SPLIT, context)]
        value = self._split_value(parameters, context)
        if split == "fraction" and (value is None or not 0 < value < 1):
            return self.reject(self.SPLIT_VALUE, value, self.tr("the fraction split needs the training share of "
                                                                "each class, between 0 and 1 (e.g. 0.1)"))
        if split == "count" and (value is None or value < 1 or value != int(value)):
            return self.reject(self.SPLIT_VALUE, value, self.tr("the count split needs a whole number of training "
                                                                "pixels per class, 1 or more (e.g. 50)"))
        if split == "disjoint" and value is not None and not 0 < value < 1:
            return self.reject(self.SPLIT_VALUE, value, self.tr("the disjoint split needs the test share of each "
                                                                "class, between 0 and 1 (default 0.3)"))
        truth = self.parameterAsLayer(parameters, self.GROUND_TRUTH, context)
        field = self.parameterAsString(parameters, self.CLASS_FIELD, context)
        if isinstance(truth, QgsVectorLayer):
            problem = class_field_problem(truth, field, self.GROUND_TRUTH)
            if problem:
                return self.reject(self.CLASS_FIELD, field, problem)
        for key in (self.OUTPUT, self.OUTPUT_CONFIDENCE):
            ok, message = check_output_extension(self, parameters, context, key)
            if not ok:
                return ok, message
        if self.parameterAsOutputLayer(parameters, self.OUTPUT_CONFIDENCE, context) and \
                not self.parameterAsOutputLayer(parameters, self.OUTPUT, context):
            return self.reject(self.OUTPUT_CONFIDENCE, self.parameterAsOutputLayer(
                parameters, self.OUTPUT_CONFIDENCE, context), self.tr("the confidence comes with the class map: "
                                                                      "set the class map (OUTPUT) too"))
        return True, ""

    def _split_value(self, parameters, context):
        if parameters.get(self.SPLIT_VALUE) in (None, ""):
            return None
        return self.parameterAsDouble(parameters, self.SPLIT_VALUE, context)

    # -- the run ---------------------------------------------------------------------------------
    def execute(self, parameters, context, progress):
        from .core import workflow
        from .core.modelfile import save_classifier
        from .core.splits import SplitError
        from .core.training import TrainingCancelled, TrainingConfig
        from .report import class_map_preview, write_report

        layer = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        truth_layer = self.parameterAsLayer(parameters, self.GROUND_TRUTH, context)
        class_field = self.parameterAsString(parameters, self.CLASS_FIELD, context) or None
        model_path = self.parameterAsFileOutput(parameters, self.OUTPUT_MODEL, context)
        report_path = self.parameterAsFileOutput(parameters, self.OUTPUT_REPORT, context)
        output = self.parameterAsOutputLayer(parameters, self.OUTPUT, context) or None
        confidence = self.parameterAsOutputLayer(parameters, self.OUTPUT_CONFIDENCE, context) or None
        for key, path in ((self.OUTPUT_MODEL, model_path), (self.OUTPUT_REPORT, report_path), (self.OUTPUT, output),
                          (self.OUTPUT_CONFIDENCE, confidence)):
            if path:
                self.prepare_destination(key, path)

        dataset = open_raster(layer.source(), self.INPUT)
        info = raster_info(dataset)
        progress.log(self.tr("{}: {}").format(layer.name(), info.describe()))
        truth = read_ground_truth(truth_layer, info, class_field, context.transformContext(), progress.warn,
                                  self.GROUND_TRUTH, self.CLASS_FIELD)
        truth.require_classes(2, self.GROUND_TRUTH)
        counts = truth.class_counts()
        progress.log(self.tr("Ground truth: {} labelled pixels in {} classes ({})").format(
            sum(counts.values()), len(counts), ", ".join(
                f"{c} {truth.class_names[c]}: {n}" if c in truth.class_names else f"{c}: {n}"
                for c, n in counts.items())))
        exclude = self._excluded_bands(parameters, context, dataset, info, progress)
        progress.check_cancel()

        config = TrainingConfig(
            window=self.parameterAsInt(parameters, self.WINDOW_SIZE, context),
            epochs=self.parameterAsInt(parameters, self.EPOCHS, context),
            batch_size=self.parameterAsInt(parameters, self.BATCH_SIZE, context),
            learning_rate=self.parameterAsDouble(parameters, self.LEARNING_RATE, context),
            dropout=self.parameterAsDouble(parameters, self.DROPOUT, context),
            seed=self.parameterAsInt(parameters, self.SEED, context),
            keep_best=self.parameterAsBool(parameters, self.KEEP_BEST, context))
        settings = workflow.TrainingSettings(
            components=self.parameterAsInt(parameters, self.COMPONENTS, context), exclude_bands=exclude,
            split=SPLITS[self.parameterAsEnum(parameters, self.SPLIT, context)],
            split_value=self._split_value(parameters, context), training=config)
        training_part = progress.part(0, 75 if output else 97)
        spill = self._spill_path(info, settings.components, progress)
        try:
            classifier = workflow.train_classifier(
                lambda: read_blocks(dataset), info.height, info.width, info.band_count, truth.grid, settings,
                class_names=truth.class_names, class_colors=class_colors(truth.class_ids, truth.class_colors),
                nodata=info.nodata, spill_path=spill, progress=training_part,
                should_cancel=progress.should_cancel, log=progress.log)
        except (workflow.Cancelled, TrainingCancelled):
            raise Cancelled() from None
        except SplitError as error:
            raise SplitError(self.tr("{} ('{}') under {} = {}: {}").format(
                self.GROUND_TRUTH, truth.source, self.SPLIT, settings.split, error)) from None
        finally:
            if spill and os.path.exists(spill):
                os.remove(spill)
        accuracy = classifier.metadata["report"]
        progress.log(self.tr("Test pixels: OA {:.2%}, AA {:.2%}, kappa {:.4f} ({})").format(
            accuracy["overall_accuracy"], accuracy["average_accuracy"], accuracy["kappa"],
            accuracy["split"]["description"]))
        classifier.metadata.update(self._context_metadata(layer, info, truth, class_field, classifier))
        classifier.metadata["versions"]["device"] = compute_device()

        if output:
            progress.log(self.tr("Classifying the scene"))
            classify_scene(classifier, dataset, info, output, confidence, progress.part(75, 97))
        progress.check_cancel()
        try:
            save_classifier(classifier, model_path)
        except OSError as error:
            raise ValueError(self.tr("{} = {}: cannot write the model ({}): free disk space or choose another "
                                     "folder").format(self.OUTPUT_MODEL, model_path, error.strerror)) from None
        html_path, json_path = write_report(
            classifier.metadata, report_path, class_map_preview(output) if output else None,
            title=self.tr("Fast 3D CNN training report: {}").format(layer.name()),
            class_colors=classifier.class_colors)
        progress(100)

        results = {self.OUTPUT_MODEL: model_path, self.OUTPUT_REPORT: html_path, self.OUTPUT_JSON: json_path,
                   self.OVERALL_ACCURACY: accuracy["overall_accuracy"],
                   self.AVERAGE_ACCURACY: accuracy["average_accuracy"], self.KAPPA: accuracy["kappa"]}
        if output:
            load_with_style(context, output, style_path(output))
            results[self.OUTPUT] = output
            if confidence:
                results[self.OUTPUT_CONFIDENCE] = confidence
        return results

    def _excluded_bands(self, parameters, context, dataset, info, progress):
        """The user's excluded bands plus the bands that hold only nodata, as 1-based ranges."""
        text = self.parameterAsString(parameters, self.BANDS, context)
        excluded = set(parse_band_ranges(text, info.band_count).tolist())
        empty = sorted(set(empty_bands(dataset)) - excluded)
        if empty:
            progress.log(self.tr("Bands {} hold only nodata and are excluded automatically").format(
                format_band_ranges(empty)))
        excluded |= set(empty)
        components = self.parameterAsInt(parameters, self.COMPONENTS, context)
        if info.band_count - len(excluded) < components:
            raise ValueError(self.tr(
                "{} = {}: only {} bands hold data after excluding '{}': choose at most {} components").format(
                    self.COMPONENTS, components, info.band_count - len(excluded), format_band_ranges(excluded),
                    info.band_count - len(excluded)))
        return format_band_ranges(sorted(excluded))

    def _spill_path(self, info, components, progress):
        """A temporary file for the reduced cube when it is too large to keep in memory, else None."""
        size = info.width * info.height * components * 4
        if size <= min(SPILL_BYTES, _available_memory() // 4):
            return None
        handle, path = tempfile.mkstemp(prefix="f3dcnn-cube-", suffix=".npy", dir=QgsProcessingUtils.tempFolder())
        os.close(handle)
        progress.log(self.tr("The reduced scene ({:.1f} GB) is kept in the temporary file {} rather than in "
                             "memory").format(size / 2 ** 30, path))
        return path

    def _context_metadata(self, layer, info, truth, class_field, classifier):
        """What the model file and the report keep about the inputs and the classes."""
        counts = truth.class_counts()
        return {
            "inputs": {"raster": info.path, "raster_size": info.describe(), "ground_truth": truth.source,
                       "class_field": class_field or "", "nodata": info.nodata},
            "wavelengths": info.wavelengths,
            "classes": [{"id": int(c), "name": classifier.class_name(c), "color": classifier.class_colors.get(int(c)),
                         "labelled_pixels": counts.get(int(c), 0)} for c in classifier.class_ids],
        }


def _available_memory():
    """Bytes of memory available for new allocations: Linux's MemAvailable (free memory plus the
    file cache it can drop), else the free pages where the system says (macOS); unbounded where
    unknown (Windows), so only SPILL_BYTES applies there."""
    try:
        with open("/proc/meminfo") as stream:
            for line in stream:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return 2 ** 63
