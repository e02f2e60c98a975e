"""``fast3dcnn:train``: the paper's recipe on the user's raster and ground truth, ending in a model
file, an accuracy report and, if asked, the class map of the scene."""
import os
import tempfile
from typing import NamedTuple

from qgis.core import (QgsProcessing, QgsProcessingOutputFile, QgsProcessingOutputNumber,
                       QgsProcessingParameterBoolean, QgsProcessingParameterEnum,
                       QgsProcessingParameterFileDestination, QgsProcessingParameterMapLayer,
                       QgsProcessingParameterMultipleLayers, QgsProcessingParameterNumber,
                       QgsProcessingParameterRasterDestination, QgsProcessingParameterRasterLayer,
                       QgsProcessingParameterString, QgsProcessingUtils, QgsVectorLayer)

from .algorithm_base import Fast3DCNNAlgorithm, load_with_style
from .class_maps import (OUTPUT_CONFIDENCE, OUTPUT_PROBABILITIES, check_map_outputs, classify_scene,
                         declare_map_options, map_options)
from .core import settings as limits
from .core.bands import BandRangeError, format_band_ranges, parse_band_ranges
from .core.errors import InputError
from .core.settings import (COTRAINING_MODES, DEFAULT_RECIPE, PRECISIONS, RECIPES, SPLIT_METHODS, TrainingConfig,
                            TrainingSettings, check_components, check_window)
from .child_process import ChildError, run_in_child
from .dependencies import compute_device
from .installer import InstallerError
from .ground_truth import class_field_problem
from .raster_io import empty_bands, style_path
from .training_scenes import MORE_GROUND_TRUTH, MORE_INPUTS, canvas, pairing_problem, read_scenes

#: Reduced cubes larger than this, or than a quarter of the memory available when training starts,
#: are kept in a temporary memory-mapped file instead of memory.
SPILL_BYTES = 2 * 2 ** 30


class TrainAlgorithm(Fast3DCNNAlgorithm):
    INPUT = "INPUT"
    GROUND_TRUTH = "GROUND_TRUTH"
    MORE_INPUTS = MORE_INPUTS
    MORE_GROUND_TRUTH = MORE_GROUND_TRUTH
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
    PATIENCE = "PATIENCE"
    PRECISION = "PRECISION"
    COTRAINING = "COTRAINING"
    #: Number parameters that, left empty, take the training recipe's value: key -> (TrainingConfig
    #: field, its type).
    RECIPE_NUMBERS = {EPOCHS: ("epochs", int), LEARNING_RATE: ("learning_rate", float), PATIENCE: ("patience", int)}
    #: Choice parameters that, left empty, take the training recipe's: key -> (field, its options).
    RECIPE_CHOICES = {PRECISION: ("precision", PRECISIONS), COTRAINING: ("cotraining", COTRAINING_MODES)}
    RECIPE = "RECIPE"
    BASELINE = "BASELINE"
    OUTPUT_MODEL = "OUTPUT_MODEL"
    OUTPUT_REPORT = "OUTPUT_REPORT"
    OUTPUT = "OUTPUT"
    OUTPUT_CONFIDENCE = OUTPUT_CONFIDENCE
    OUTPUT_PROBABILITIES = OUTPUT_PROBABILITIES
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
        self._define_inputs()
        self._define_training()
        self._define_outputs()

    def _define_inputs(self):
        self.declare(QgsProcessingParameterRasterLayer(self.INPUT, self.tr("Hyperspectral raster")),
                     self.tr("The image to learn from: one band per wavelength, any format GDAL reads. Its "
                             "nodata value marks pixels to ignore."))
        self.declare(QgsProcessingParameterMapLayer(
            self.GROUND_TRUTH, self.tr("Ground truth"),
            types=[QgsProcessing.SourceType.TypeRaster, QgsProcessing.SourceType.TypeVectorPolygon,
                   QgsProcessing.SourceType.TypeVectorLine, QgsProcessing.SourceType.TypeVectorPoint]),
            self.tr("Reference classes: a label raster (class ids, 0 = unlabelled; on the raster's grid, or "
                    "georeferenced so it can be aligned) or a polygon, line or point layer with a class "
                    "field. Polygons label the pixels whose centre they contain, lines the pixels they cross, points "
                    "the pixel they fall in; where features overlap the smaller one wins (polygons, then lines, "
                    "then points). Vector layers in another CRS are reprojected."))
        self.declare(QgsProcessingParameterMultipleLayers(
            self.MORE_INPUTS, self.tr("Further rasters of the same sensor"),
            layerType=QgsProcessing.SourceType.TypeRaster, optional=True),
            self.tr("More rasters to learn from (other flight lines, dates or tiles), with the same bands as the "
                    "first and the same nodata value. The PCA is fitted over all of them, the split is drawn "
                    "within each and pooled, and the report lists them. Their labels come from the vector "
                    "ground truth, or from the label rasters of 'Label rasters of the further rasters'."))
        self.declare(QgsProcessingParameterMultipleLayers(
            self.MORE_GROUND_TRUTH, self.tr("Label rasters of the further rasters"),
            layerType=QgsProcessing.SourceType.TypeRaster, optional=True),
            self.tr("When the ground truth is a label raster: one label raster for each further raster, in the "
                    "same order. Leave empty when the ground truth is a vector layer covering all rasters."))
        self.declare_class_field(self.CLASS_FIELD, self.tr("Class field (vector ground truth)"), self.GROUND_TRUTH,
                                 self.tr("The field of the vector ground truth that holds the class: integer ids "
                                         "(1 or more) or text names (numbered 1, 2, ... in alphabetical order; the "
                                         "names are kept). Features with an empty value are skipped. Not used for a "
                                         "label raster."))
        self.declare(QgsProcessingParameterString(self.BANDS, self.tr("Bands to exclude"), optional=True),
                     self.tr("1-based bands and ranges to leave out, e.g. noisy water-absorption bands: "
                             "108-112,154-167,224 for the 224-band AVIRIS scenes. Empty keeps every band."))

    def _number(self, key, label, limit, help_text, advanced=False, integer=True, optional=False):
        """Declares a number parameter whose range and (unless ``optional``) default are ``limit``'s
        (core.settings)."""
        definition = QgsProcessingParameterNumber(
            key, label, type=QgsProcessingParameterNumber.Type.Integer if integer else QgsProcessingParameterNumber.Type.Double,
            optional=optional, minValue=limit.minimum, **({} if optional else {"defaultValue": limit.default}),
            **({} if limit.maximum is None else {"maxValue": limit.maximum}))
        return self.declare(definition, help_text, advanced)

    def _recipe_number(self, key, label, limit, help_text, advanced=False):
        """Declares an optional number parameter of RECIPE_NUMBERS, which left empty takes the training
        recipe's value, and says in its help what each recipe uses."""
        field, kind = self.RECIPE_NUMBERS[key]
        recipes = ", ".join(f"{name} {recipe[field]:g}" for name, recipe in RECIPES.items())
        return self._number(key, label, limit, help_text + " " + self.tr("Empty: the recipe's ({}).").format(recipes),
                            advanced, kind is int, optional=True)

    def _recipe_choice(self, key, label, help_text):
        """Declares an optional advanced choice of RECIPE_CHOICES, which left empty takes the training
        recipe's, and says in its help what each recipe uses."""
        field, options = self.RECIPE_CHOICES[key]
        recipes = ", ".join(f"{name} {recipe[field]}" for name, recipe in RECIPES.items())
        self.declare(QgsProcessingParameterEnum(key, label, options=list(options), optional=True),
                     help_text + " " + self.tr("Empty: the recipe's ({}).").format(recipes), advanced=True)

    def _define_training(self):
        self._number(self.WINDOW_SIZE, self.tr("Window size (pixels)"), limits.WINDOW, self.tr(
            "Side S of the S x S window around each pixel that the network sees; odd. Larger windows use more "
            "spatial context but blur class edges and train slower. The paper uses {}; the network needs at "
            "least {}.").format(limits.WINDOW.default, limits.WINDOW.minimum))
        self._number(self.COMPONENTS, self.tr("PCA components"), limits.COMPONENTS, self.tr(
            "Number of principal components the bands are reduced to before the network. The paper uses {}; at "
            "least {} are needed.").format(limits.COMPONENTS.default, limits.COMPONENTS.minimum))
        self._recipe_number(self.EPOCHS, self.tr("Epochs"), limits.EPOCHS, self.tr(
            "The most passes over the training pixels (training may stop earlier, see below); the cosine "
            "learning-rate schedule of the robust recipe ends at the last. Fewer train faster and usually "
            "lose a little accuracy."))
        self._number(self.BATCH_SIZE, self.tr("Batch size"), limits.BATCH_SIZE, self.tr(
            "Training patches per update step (the paper: 256). Smaller batches need less memory."), advanced=True)
        self._recipe_number(self.LEARNING_RATE, self.tr("Learning rate"), limits.LEARNING_RATE,
                            self.tr("Step size of the Adam optimiser: the paper's is constant; the robust recipe's "
                                    "rises to this value over the first epoch and falls along a cosine to 1% of it "
                                    "at the last."), advanced=True)
        self._number(self.DROPOUT, self.tr("Dropout"), limits.DROPOUT, self.tr(
            "Share of the dense layers' units switched off at random during training, against over-fitting "
            "(the paper's code: 0.4)."), advanced=True, integer=False)
        self.declare(QgsProcessingParameterEnum(self.RECIPE, self.tr("Training recipe"), options=list(RECIPES),
                                                defaultValue=list(RECIPES).index(DEFAULT_RECIPE)),
                     self.tr("robust (default): the PCA is fitted on bands standardised over the scene (its "
                             "correlation matrix) and its scores are scaled by the first component's deviation, "
                             "the training patches get a little spectral noise and, on the disjoint split, the "
                             "validation pixels no test window reaches are trained on too and the network is "
                             "trained again with the pixels where it and the SVM baseline agree (co-training); "
                             "it holds up far "
                             "better on ground away from the training pixels (Salinas-A disjoint 98% against "
                             "82%) and keeps the paper's accuracy on random splits; it also trains faster (He's "
                             "first weights, a cosine learning-rate schedule, 40 epochs at most, stopping early "
                             "when validation, scored every second epoch, stops improving). paper: the paper's "
                             "recipe exactly (covariance PCA, each "
                             "component scaled to unit variance, no noise, Adam at a constant 0.001, 50 epochs)."))
        self.declare(QgsProcessingParameterEnum(self.SPLIT, self.tr("Split of the labelled pixels"),
                                                options=list(SPLIT_METHODS), defaultValue=0),
                     self.tr("paper: per class 30% test, the rest halved into training and validation (the "
                             "paper's text). fraction: a share of each class for training, the rest halved into "
                             "validation and test. count: a number of pixels per class for training, the rest "
                             "halved. disjoint: per class a contiguous area held out for test, with training "
                             "pixels whose window would reach a test pixel dropped, for honest figures."))
        self.declare(QgsProcessingParameterNumber(self.SPLIT_VALUE, self.tr("Split value"),
                                                  type=QgsProcessingParameterNumber.Type.Double, optional=True,
                                                  minValue=0.0),
                     self.tr("For fraction: the training share of each class (0 to 1, e.g. 0.1). For count: "
                             "training pixels per class (e.g. 50). For disjoint: the test share of each class "
                             "(default {}). Not used by paper.").format(limits.DISJOINT_TEST_FRACTION))
        self._number(self.SEED, self.tr("Random seed"), limits.SEED, self.tr(
            "Seed of the split, the weight initialisation and the batch order: the same data, settings and seed "
            "give the same model on the same machine."), advanced=True)
        self._advanced_flag(self.KEEP_BEST, self.tr("Keep the best epoch"), False, self.tr(
            "Keep the network of the epoch with the highest validation accuracy instead of the last (always "
            "done when training stops early)."))
        self._recipe_number(self.PATIENCE, self.tr("Stop after epochs without improvement"), limits.PATIENCE,
                            self.tr("Training stops once this many epochs pass without a better validation "
                                    "accuracy, and keeps the best epoch's network; Epochs is then the most that are "
                                    "run, and the report says where and why training stopped. 0: train every epoch."),
                            advanced=True)
        self._recipe_choice(self.PRECISION, self.tr("Arithmetic"), self.tr(
            "auto: mixed bfloat16 where the processor computes it natively (CPUs with AMX or AVX-512 BF16, NVIDIA "
            "GPUs from Ampere on), else float32. float32: always float32. The model's weights are float32 either "
            "way."))
        self._recipe_choice(self.COTRAINING, self.tr("Co-training with the SVM baseline"), self.tr(
            "on: after training, the network and the SVM baseline classify up to 50,000 pixels of the scene "
            "outside training; where they agree and the network is at least 90% sure, the pixels become training "
            "labels (per class at most as many as the class's training pixels) and the network is trained again "
            "from new weights; three rounds, each with the labels of the last network. It adapts the network to "
            "the ground the map covers. Training takes about four times as long. auto: on with the disjoint "
            "split only. off: never. It needs the SVM baseline."))
        self._advanced_flag(self.BASELINE, self.tr("Compare with an SVM baseline"), True, self.tr(
            "Also train a support vector machine (RBF kernel) on the standardised spectra of the same training "
            "pixels, tuned on the validation pixels, and score it on the same test pixels: the report shows it "
            "beside the network and says which is better. It sees no neighbourhood, so where it wins the "
            "network's spatial context does not help on this ground. Takes seconds (at most 3,000 training "
            "pixels are used, a stratified sample above that); switch it off for very large training sets."))

    def _advanced_flag(self, key, label, default, help_text):
        return self.declare(QgsProcessingParameterBoolean(key, label, defaultValue=default), help_text, advanced=True)

    def _define_outputs(self):
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
        declare_map_options(self, advanced=True)
        self.declareOutput(QgsProcessingOutputFile(self.OUTPUT_JSON, self.tr("Accuracy figures (JSON)")),
                           self.tr("The JSON file beside the report."))
        for key, label in ((self.OVERALL_ACCURACY, self.tr("Overall accuracy")),
                           (self.AVERAGE_ACCURACY, self.tr("Average accuracy")), (self.KAPPA, self.tr("Kappa"))):
            self.declareOutput(QgsProcessingOutputNumber(key, label),
                               self.tr("{} on the test pixels (1 = perfect), for use in models.").format(label))

    # -- checks before anything runs ---------------------------------------------------------
    def checkParameterValues(self, parameters, context):
        ok, message = super().checkParameterValues(parameters, context)
        for check in (self._check_raster_settings, self._check_more_inputs, self._check_split, self._check_class_field,
                      lambda parameters, context: check_map_outputs(self, parameters, context)):
            if not ok:
                break
            ok, message = check(parameters, context)
        return ok, message

    def _check_raster_settings(self, parameters, context):
        """The window and the components, against the network and the raster's size and bands."""
        window = self.parameterAsInt(parameters, self.WINDOW_SIZE, context)
        components = self.parameterAsInt(parameters, self.COMPONENTS, context)
        layer = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        size = (layer.width(), layer.height()) if layer is not None else None
        try:
            check_window(window, size)
        except InputError as error:
            return self.reject(self.WINDOW_SIZE, window, str(error))
        if layer is None:
            return True, ""
        bands_text = self.parameterAsString(parameters, self.BANDS, context)
        try:
            kept = layer.bandCount() - len(parse_band_ranges(bands_text, layer.bandCount()))
        except BandRangeError as error:
            return self.reject(self.BANDS, bands_text, str(error))
        try:
            check_components(components, kept, bands_text)
        except InputError as error:
            return self.reject(self.COMPONENTS, components, str(error))
        return True, ""

    def _check_more_inputs(self, parameters, context):
        rasters = self.parameterAsLayerList(parameters, self.MORE_INPUTS, context)
        truths = self.parameterAsLayerList(parameters, self.MORE_GROUND_TRUTH, context)
        problem = pairing_problem(rasters, self.parameterAsLayer(parameters, self.GROUND_TRUTH, context), truths)
        if problem:
            return False, problem
        first = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        for raster in rasters:
            if first is not None and raster.bandCount() != first.bandCount():
                return self.reject(self.MORE_INPUTS, raster.source(), self.tr(
                    "'{}' has {} bands but {} has {}: train on rasters of one sensor with the same bands").format(
                    raster.name(), raster.bandCount(), self.INPUT, first.bandCount()))
        return True, ""

    def _check_split(self, parameters, context):
        value = self._split_value(parameters, context)
        problem = limits.split_value_problem(SPLIT_METHODS[self.parameterAsEnum(parameters, self.SPLIT, context)], value)
        return self.reject(self.SPLIT_VALUE, value, problem) if problem else (True, "")

    def _check_class_field(self, parameters, context):
        truth = self.parameterAsLayer(parameters, self.GROUND_TRUTH, context)
        field = self.parameterAsString(parameters, self.CLASS_FIELD, context)
        problem = class_field_problem(truth, field, self.GROUND_TRUTH) if isinstance(truth, QgsVectorLayer) else None
        return self.reject(self.CLASS_FIELD, field, problem) if problem else (True, "")

    def _split_value(self, parameters, context):
        if parameters.get(self.SPLIT_VALUE) in (None, ""):
            return None
        return self.parameterAsDouble(parameters, self.SPLIT_VALUE, context)

    # -- the run ---------------------------------------------------------------------------------
    def execute(self, parameters, context, progress):
        paths = self._destinations(parameters, context)
        layer = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        scenes = self._scenes(parameters, context, progress)
        settings = self._settings(parameters, context, scenes, progress)
        progress.check_cancel()

        classifier = self._train(scenes, settings, progress.part(0, 75 if paths.map else 97))
        accuracy = classifier.record.accuracy
        progress.log(self.tr("Test pixels: OA {:.2%}, AA {:.2%}, kappa {:.4f} ({})").format(
            accuracy["overall_accuracy"], accuracy["average_accuracy"], accuracy["kappa"],
            classifier.record.split["description"]))
        self._complete_record(classifier.record, scenes, self.parameterAsString(parameters, self.CLASS_FIELD, context))
        if paths.map:
            progress.log(self.tr("Classifying the scene"))
            classify_scene(classifier, scenes[0].dataset, scenes[0].info, paths.map, progress.part(75, 97),
                           **paths.map_options)
        progress.check_cancel()
        results = self._write_model_and_report(classifier, paths, layer.name())
        progress(100)
        if paths.map:
            load_with_style(context, paths.map, style_path(paths.map))
            results.update({self.OUTPUT: paths.map, **paths.map_extras})
        return results

    def _destinations(self, parameters, context):
        """The output paths, each checked writable before the long work."""
        paths = _Destinations(self.parameterAsFileOutput(parameters, self.OUTPUT_MODEL, context),
                              self.parameterAsFileOutput(parameters, self.OUTPUT_REPORT, context),
                              self.parameterAsOutputLayer(parameters, self.OUTPUT, context) or None,
                              *map_options(self, parameters, context))
        for key, path in zip((self.OUTPUT_MODEL, self.OUTPUT_REPORT, self.OUTPUT), paths):
            if path:
                self.prepare_destination(key, path)
        return paths

    def _scenes(self, parameters, context, progress):
        """The training rasters, each with its ground truth, logged."""
        truth = self.parameterAsLayer(parameters, self.GROUND_TRUTH, context)
        rasters = self.parameterAsLayerList(parameters, self.MORE_INPUTS, context)
        more_truths = self.parameterAsLayerList(parameters, self.MORE_GROUND_TRUTH, context)
        problem = pairing_problem(rasters, truth, more_truths)
        if problem:
            raise InputError(problem)
        layers = [self.parameterAsRasterLayer(parameters, self.INPUT, context), *rasters]
        truths = [truth] * len(layers) if isinstance(truth, QgsVectorLayer) or not rasters else [truth, *more_truths]
        scenes = read_scenes(layers, truths, self.parameterAsString(parameters, self.CLASS_FIELD, context) or None,
                             context.transformContext(), progress)
        for scene in scenes:
            counts = scene.truth.class_counts()
            names = scene.truth.classes.names
            progress.log(self.tr("Ground truth of {}: {} labelled pixels in {} classes ({})").format(
                scene.name, sum(counts.values()), len(counts),
                ", ".join(f"{c} {names[c]}: {n}" if c in names else f"{c}: {n}" for c, n in counts.items())))
        if len(scenes) == 1:
            scenes[0].truth.require_classes(2, self.GROUND_TRUTH)
        return scenes

    def _settings(self, parameters, context, scenes, progress):
        config = TrainingConfig.recipe(
            list(RECIPES)[self.parameterAsEnum(parameters, self.RECIPE, context)],
            window=self.parameterAsInt(parameters, self.WINDOW_SIZE, context),
            batch_size=self.parameterAsInt(parameters, self.BATCH_SIZE, context),
            dropout=self.parameterAsDouble(parameters, self.DROPOUT, context),
            seed=self.parameterAsInt(parameters, self.SEED, context),
            keep_best=self.parameterAsBool(parameters, self.KEEP_BEST, context),
            **self._given(parameters, context))
        return TrainingSettings(
            components=self.parameterAsInt(parameters, self.COMPONENTS, context),
            exclude_bands=self._excluded_bands(parameters, context, scenes, progress),
            split=SPLIT_METHODS[self.parameterAsEnum(parameters, self.SPLIT, context)],
            split_value=self._split_value(parameters, context),
            baseline=self.parameterAsBool(parameters, self.BASELINE, context), training=config)

    def _given(self, parameters, context):
        """The settings of RECIPE_NUMBERS and RECIPE_CHOICES that are given: the others are the recipe's."""
        given = {field: kind(self.parameterAsDouble(parameters, key, context))
                 for key, (field, kind) in self.RECIPE_NUMBERS.items() if parameters.get(key) not in (None, "")}
        for key, (field, options) in self.RECIPE_CHOICES.items():
            if parameters.get(key) not in (None, ""):
                given[field] = options[self.parameterAsEnum(parameters, key, context)]
        return given

    def _train(self, scenes, settings, progress):
        from .core.splits import SplitError
        from .core.workflow import train_classifier

        mosaic, blocks, grid, classes = canvas(scenes, settings.training.window)
        info = scenes[0].info
        spill = self._spill_path(mosaic.height * mosaic.width, settings.components, progress)
        try:
            return train_classifier(
                blocks, mosaic.height, mosaic.width, info.band_count, grid, settings, classes=classes,
                nodata=info.nodata, spill_path=spill, progress=progress, should_cancel=progress.should_cancel,
                log=progress.log, mosaic=mosaic, baseline_runner=self._baseline_runner(progress))
        except SplitError as error:
            raise SplitError(self.tr("{} ('{}') under {} = {}: {}").format(
                self.GROUND_TRUTH, scenes[0].truth.source, self.SPLIT, settings.split, error)) from None
        finally:
            if spill and os.path.exists(spill):
                os.remove(spill)

    @staticmethod
    def _baseline_runner(progress):
        """Runs the SVM baseline in a child process (child_process.py says why); a failure there
        costs the baseline, with a warning, never the training."""
        def run(function, *arguments):
            try:
                return run_in_child(function, *arguments)
            except (ChildError, InstallerError, OSError) as error:
                progress.warn(f"No SVM baseline this time: {error}")
                return None
        return run

    def _write_model_and_report(self, classifier, paths, layer_name):
        from .core.modelfile import save_classifier
        from .raster_io import class_map_preview
        from .report import write_report

        try:
            save_classifier(classifier, paths.model)
        except OSError as error:
            raise InputError(self.tr("{} = {}: cannot write the model ({}): free disk space or choose another "
                                     "folder").format(self.OUTPUT_MODEL, paths.model, error.strerror)) from None
        html_path, json_path = write_report(
            classifier.record, paths.report, class_map_preview(paths.map) if paths.map else None,
            title=self.tr("Fast 3D CNN training report: {}").format(layer_name))
        accuracy = classifier.record.accuracy
        return {self.OUTPUT_MODEL: paths.model, self.OUTPUT_REPORT: html_path, self.OUTPUT_JSON: json_path,
                self.OVERALL_ACCURACY: accuracy["overall_accuracy"],
                self.AVERAGE_ACCURACY: accuracy["average_accuracy"], self.KAPPA: accuracy["kappa"]}

    def _excluded_bands(self, parameters, context, scenes, progress):
        """The user's excluded bands plus the bands that hold only nodata in any raster, as 1-based ranges."""
        text = self.parameterAsString(parameters, self.BANDS, context)
        info = scenes[0].info
        excluded = set(parse_band_ranges(text, info.band_count).tolist())
        empty = sorted(set().union(*(empty_bands(scene.dataset) for scene in scenes)) - excluded)
        if empty:
            progress.log(self.tr("Bands {} hold only nodata and are excluded automatically").format(
                format_band_ranges(empty)))
        excluded = format_band_ranges(sorted(excluded | set(empty)))
        components = self.parameterAsInt(parameters, self.COMPONENTS, context)
        try:
            check_components(components, info.band_count - len(parse_band_ranges(excluded, info.band_count)),
                             excluded)
        except InputError as error:
            raise InputError(f"{self.COMPONENTS} = {components}: {error}") from None
        return excluded

    def _spill_path(self, pixels, components, progress):
        """A temporary file for the reduced cube when it is too large to keep in memory, else None."""
        size = pixels * components * 4
        if size <= min(SPILL_BYTES, _available_memory() // 4):
            return None
        handle, path = tempfile.mkstemp(prefix="f3dcnn-cube-", suffix=".npy", dir=QgsProcessingUtils.tempFolder())
        os.close(handle)
        progress.log(self.tr("The reduced scene ({:.1f} GB) is kept in the temporary file {} rather than in "
                             "memory").format(size / 2 ** 30, path))
        return path

    @staticmethod
    def _complete_record(record, scenes, class_field):
        """What the model file and the report keep about the inputs, beside what training measured."""
        first = scenes[0]
        record.inputs = {"raster": first.info.path, "raster_size": first.info.describe(),
                         "ground_truth": first.truth.source, "class_field": class_field or "",
                         "nodata": first.info.nodata}
        if len(scenes) > 1:
            record.inputs["further_rasters"] = [f"{s.info.path} ({s.info.describe()}; ground truth {s.truth.source})"
                                                for s in scenes[1:]]
        record.wavelengths = first.info.wavelengths
        counts = {}
        for scene in scenes:
            for class_id, n in scene.truth.class_counts().items():
                counts[class_id] = counts.get(class_id, 0) + n
        record.labelled_pixels = dict(sorted(counts.items()))
        record.versions["device"] = compute_device()


class _Destinations(NamedTuple):
    model: str
    report: str
    map: str
    map_options: dict  # class_maps.map_options: classify_scene's keyword arguments
    map_extras: dict   # and the extra outputs {key: path}


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
