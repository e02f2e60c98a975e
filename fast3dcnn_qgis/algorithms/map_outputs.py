"""The parameters that come with a class map (the confidence and probability rasters, the minimum
confidence), declared, read and checked alike by classify and by train, which can map the scene
right after fitting."""
from qgis.core import QgsProcessingParameterNumber, QgsProcessingParameterRasterDestination

OUTPUT = "OUTPUT"
OUTPUT_CONFIDENCE = "OUTPUT_CONFIDENCE"
OUTPUT_PROBABILITIES = "OUTPUT_PROBABILITIES"
MIN_CONFIDENCE = "MIN_CONFIDENCE"
#: The optional rasters written beside the class map.
MAP_EXTRAS = (OUTPUT_CONFIDENCE, OUTPUT_PROBABILITIES)


def declare_map_options(algorithm, advanced=False):
    """Declares MIN_CONFIDENCE, OUTPUT_CONFIDENCE and OUTPUT_PROBABILITIES on ``algorithm``."""
    tr = algorithm.tr
    threshold = QgsProcessingParameterNumber(MIN_CONFIDENCE, tr("Minimum confidence"),
                                             type=QgsProcessingParameterNumber.Type.Double, defaultValue=0.0,
                                             minValue=0.0, maxValue=1.0)
    algorithm.declare(threshold, tr(
        "Pixels whose most probable class has a probability below this (0 to 1) are left unclassified (0) "
        "instead of guessed; the log says how many. 0 classifies every valid pixel. With c classes the top "
        "probability is at least 1/c, so useful values lie above that (e.g. 0.6 or 0.8)."), advanced)
    algorithm.declare(QgsProcessingParameterRasterDestination(
        OUTPUT_CONFIDENCE, tr("Confidence"), optional=True, createByDefault=False), tr(
        "With the class map: a float32 GeoTIFF of the network's probability for the class it chose, per pixel "
        "(0 to 1; 0 = invalid pixel). Low values show where the map is unsure."))
    algorithm.declare(QgsProcessingParameterRasterDestination(
        OUTPUT_PROBABILITIES, tr("Class probabilities"), optional=True, createByDefault=False), tr(
        "With the class map: a float32 GeoTIFF with one band per class (in class-id order, each band named "
        "after its class) holding the network's probability of that class (0 to 1; -1 = invalid pixel), for "
        "thresholds, fuzzy maps or the good-practice sampling of an accuracy assessment."))


def map_options(algorithm, parameters, context):
    """(the keyword arguments of ``classify_scene`` the user chose, the extra outputs {key: path}),
    each output checked writable."""
    outputs = {}
    for key in MAP_EXTRAS:
        path = algorithm.parameterAsOutputLayer(parameters, key, context)
        if path:
            outputs[key] = algorithm.prepare_destination(key, path)
    return ({"confidence_path": outputs.get(OUTPUT_CONFIDENCE), "probabilities_path": outputs.get(OUTPUT_PROBABILITIES),
             "min_confidence": algorithm.parameterAsDouble(parameters, MIN_CONFIDENCE, context)}, outputs)


def check_map_outputs(algorithm, parameters, context):
    """Rejects map outputs that are not GeoTIFF, and extras asked for without the class map (train's
    map is optional)."""
    for key in (OUTPUT, *MAP_EXTRAS):
        ok, message = check_output_extension(algorithm, parameters, context, key)
        if not ok:
            return ok, message
    if not algorithm.parameterAsOutputLayer(parameters, OUTPUT, context):
        for key in MAP_EXTRAS:
            path = algorithm.parameterAsOutputLayer(parameters, key, context)
            if path:
                return algorithm.reject(key, path, algorithm.tr(
                    "it comes with the class map: set the class map (OUTPUT) too"))
    return True, ""


def check_output_extension(algorithm, parameters, context, key):
    """Rejects a destination whose extension is not GeoTIFF (the writer only writes GeoTIFF)."""
    path = algorithm.parameterAsOutputLayer(parameters, key, context)
    if path and not path.lower().endswith((".tif", ".tiff")):
        return algorithm.reject(key, path, algorithm.tr("the map is written as GeoTIFF: give a .tif file name"))
    return True, ""
