"""What "Train 3D CNN classifier" asks of the analyst: its parameters, declared with the labels and
help of train_help, and the checks that reject bad values before anything runs. TrainAlgorithm
(train.py) adds the run."""
from qgis.core import (QgsProcessing, QgsProcessingOutputFile, QgsProcessingOutputNumber,
                       QgsProcessingParameterBoolean, QgsProcessingParameterEnum,
                       QgsProcessingParameterFileDestination, QgsProcessingParameterMapLayer,
                       QgsProcessingParameterMultipleLayers, QgsProcessingParameterNumber,
                       QgsProcessingParameterRasterDestination, QgsProcessingParameterRasterLayer,
                       QgsProcessingParameterString, QgsProcessingParameterVectorLayer, QgsVectorLayer)

from ..core import settings as limits
from ..core.bands import BandRangeError, parse_band_ranges
from ..core.errors import InputError
from ..core.settings import (BALANCE_MODES, COTRAINING_MODES, DEFAULT_RECIPE, DEFAULT_SPLIT, FUSION_MODES, PRECISIONS,
                             RECIPES, SMOOTHING_MODES, SPLIT_METHODS, check_components, check_window)
from ..gdal_io.ground_truth import class_field_problem
from ..gdal_io.training_scenes import MORE_GROUND_TRUTH, MORE_INPUTS, pairing_problem
from . import train_help
from .base import Fast3DCNNAlgorithm
from .map_outputs import OUTPUT_CONFIDENCE, OUTPUT_PROBABILITIES, check_map_outputs, declare_map_options


class TrainParameters(Fast3DCNNAlgorithm):
    INPUT = "INPUT"
    GROUND_TRUTH = "GROUND_TRUTH"
    MORE_INPUTS = MORE_INPUTS
    MORE_GROUND_TRUTH = MORE_GROUND_TRUTH
    CLASS_FIELD = "CLASS_FIELD"
    LABELLED_POINTS = "LABELLED_POINTS"
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
    FUSION = "FUSION"
    SMOOTHING = "SMOOTHING"
    BALANCE = "BALANCE"
    #: Number parameters that, left empty, take the training recipe's value: key -> (TrainingConfig
    #: field, its type).
    RECIPE_NUMBERS = {EPOCHS: ("epochs", int), LEARNING_RATE: ("learning_rate", float), PATIENCE: ("patience", int)}
    #: Choice parameters that, left empty, take the training recipe's: key -> (field, its options).
    RECIPE_CHOICES = {PRECISION: ("precision", PRECISIONS), COTRAINING: ("cotraining", COTRAINING_MODES),
                      FUSION: ("fusion", FUSION_MODES), SMOOTHING: ("smoothing", SMOOTHING_MODES),
                      BALANCE: ("balance", BALANCE_MODES)}
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

    DESCRIPTION = train_help.DESCRIPTION

    def label(self, key):
        return self.tr(train_help.PARAMETERS[key].label)

    def help(self, key):
        return self.tr(train_help.PARAMETERS[key].help)

    def defineParameters(self):
        self._define_inputs()
        self._define_training()
        self._define_outputs()

    def _define_inputs(self):
        self._declare(QgsProcessingParameterRasterLayer(self.INPUT, self.label(self.INPUT)))
        self._declare(QgsProcessingParameterMapLayer(
            self.GROUND_TRUTH, self.label(self.GROUND_TRUTH),
            types=[QgsProcessing.SourceType.TypeRaster, QgsProcessing.SourceType.TypeVectorPolygon,
                   QgsProcessing.SourceType.TypeVectorLine, QgsProcessing.SourceType.TypeVectorPoint]))
        for key in (self.MORE_INPUTS, self.MORE_GROUND_TRUTH):
            self._declare(QgsProcessingParameterMultipleLayers(
                key, self.label(key), layerType=QgsProcessing.SourceType.TypeRaster, optional=True))
        self.declare_class_field(self.CLASS_FIELD, self.label(self.CLASS_FIELD), self.GROUND_TRUTH,
                                 self.help(self.CLASS_FIELD))
        self._declare(QgsProcessingParameterVectorLayer(self.LABELLED_POINTS, self.label(self.LABELLED_POINTS),
                                                        types=[QgsProcessing.SourceType.TypeVectorPoint],
                                                        optional=True))
        self._declare(QgsProcessingParameterString(self.BANDS, self.label(self.BANDS), optional=True))

    def _declare(self, definition, advanced=False):
        """Declares ``definition`` with its help from train_help."""
        return self.declare(definition, self.help(definition.name()), advanced)

    def _number(self, key, limit, advanced=False, integer=True, optional=False):
        """Declares a number parameter whose range and (unless ``optional``) default are ``limit``'s
        (core.settings)."""
        kind = QgsProcessingParameterNumber.Type.Integer if integer else QgsProcessingParameterNumber.Type.Double
        definition = QgsProcessingParameterNumber(
            key, self.label(key), type=kind, optional=optional, minValue=limit.minimum,
            **({} if optional else {"defaultValue": limit.default}),
            **({} if limit.maximum is None else {"maxValue": limit.maximum}))
        return self._declare(definition, advanced)

    def _recipe_number(self, key, limit, advanced=False):
        """Declares an optional number parameter of RECIPE_NUMBERS, which left empty takes the training
        recipe's value (its help says what each recipe uses)."""
        return self._number(key, limit, advanced, self.RECIPE_NUMBERS[key][1] is int, optional=True)

    def _recipe_choice(self, key):
        """Declares an optional advanced choice of RECIPE_CHOICES, which left empty takes the training
        recipe's (its help says what each recipe uses)."""
        options = self.RECIPE_CHOICES[key][1]
        self._declare(QgsProcessingParameterEnum(key, self.label(key), options=list(options), optional=True),
                      advanced=True)

    def _define_training(self):
        self._number(self.WINDOW_SIZE, limits.WINDOW)
        self._number(self.COMPONENTS, limits.COMPONENTS)
        self._recipe_number(self.EPOCHS, limits.EPOCHS)
        self._number(self.BATCH_SIZE, limits.BATCH_SIZE, advanced=True)
        self._recipe_number(self.LEARNING_RATE, limits.LEARNING_RATE, advanced=True)
        self._number(self.DROPOUT, limits.DROPOUT, advanced=True, integer=False)
        self._declare(QgsProcessingParameterEnum(self.RECIPE, self.label(self.RECIPE), options=list(RECIPES),
                                                 defaultValue=list(RECIPES).index(DEFAULT_RECIPE)))
        self._declare(QgsProcessingParameterEnum(self.SPLIT, self.label(self.SPLIT), options=list(SPLIT_METHODS),
                                                 defaultValue=SPLIT_METHODS.index(DEFAULT_SPLIT)))
        self._declare(QgsProcessingParameterNumber(self.SPLIT_VALUE, self.label(self.SPLIT_VALUE),
                                                   type=QgsProcessingParameterNumber.Type.Double, optional=True,
                                                   minValue=0.0))
        self._number(self.SEED, limits.SEED, advanced=True)
        self._advanced_flag(self.KEEP_BEST, False)
        self._recipe_number(self.PATIENCE, limits.PATIENCE, advanced=True)
        self._recipe_choice(self.PRECISION)
        self._recipe_choice(self.COTRAINING)
        self._recipe_choice(self.FUSION)
        self._recipe_choice(self.SMOOTHING)
        self._recipe_choice(self.BALANCE)
        self._advanced_flag(self.BASELINE, True)

    def _advanced_flag(self, key, default):
        return self._declare(QgsProcessingParameterBoolean(key, self.label(key), defaultValue=default), advanced=True)

    def _define_outputs(self):
        self._declare(QgsProcessingParameterFileDestination(self.OUTPUT_MODEL, self.label(self.OUTPUT_MODEL),
                                                            self.tr("Fast 3D CNN model (*.f3dcnn)")))
        self._declare(QgsProcessingParameterFileDestination(self.OUTPUT_REPORT, self.label(self.OUTPUT_REPORT),
                                                            self.tr("HTML files (*.html)")))
        self._declare(QgsProcessingParameterRasterDestination(self.OUTPUT, self.label(self.OUTPUT), optional=True,
                                                              createByDefault=False))
        declare_map_options(self, advanced=True)
        self.declareOutput(QgsProcessingOutputFile(self.OUTPUT_JSON, self.label(self.OUTPUT_JSON)),
                           self.help(self.OUTPUT_JSON))
        for key in (self.OVERALL_ACCURACY, self.AVERAGE_ACCURACY, self.KAPPA):
            self.declareOutput(QgsProcessingOutputNumber(key, self.label(key)), self.help(key))

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
