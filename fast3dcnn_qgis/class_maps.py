"""Writing a classifier's class map (with its confidence and probabilities) of a whole raster, and
the parameters that come with a map: shared by classify and by train, which can map the scene right
after fitting."""
import contextlib

from qgis.core import QgsProcessingParameterNumber, QgsProcessingParameterRasterDestination

from .raster_io import PREDICTION_BLOCK_PIXELS, count_blocks, map_writers, read_blocks, rejection_note

#: Patches per network call during prediction.
PREDICTION_BATCH = 1024
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


def classify_scene(classifier, dataset, info, output_path, progress, confidence_path=None, probabilities_path=None,
                   min_confidence=0.0):
    """Writes the class map of ``dataset``, and the confidence and per-class probability rasters
    when their paths are given; returns how many valid pixels were left unclassified because their
    top probability was below ``min_confidence``.

    Blocks carry a halo of S // 2 pixels so every pixel sees its whole patch; every file is written
    under a temporary name and renamed only once every block is done, so Cancel or an error leaves
    nothing behind.
    """
    from .core.prediction import predict_blocks

    halo = classifier.window // 2
    total = count_blocks(info, halo, max_pixels=PREDICTION_BLOCK_PIXELS)
    with contextlib.ExitStack() as stack:
        writers = map_writers(output_path, info, classifier.classes, confidence_path, probabilities_path)
        for writer in writers.values():
            stack.enter_context(writer)
        blocks = read_blocks(dataset, halo, max_pixels=PREDICTION_BLOCK_PIXELS)
        rejected = 0
        for done, prediction in enumerate(
                predict_blocks(classifier, blocks, PREDICTION_BATCH, min_confidence=min_confidence), start=1):
            progress.check_cancel()
            for name, writer in writers.items():
                writer.write(prediction.block.row, prediction.block.col, getattr(prediction, name))
            rejected += prediction.n_rejected
            progress(100.0 * done / total)
        progress.check_cancel()
        for writer in writers.values():
            writer.commit()
    if min_confidence > 0:
        progress.log(rejection_note(rejected, min_confidence))
    return rejected


def check_output_extension(algorithm, parameters, context, key):
    """Rejects a destination whose extension is not GeoTIFF (the writer only writes GeoTIFF)."""
    path = algorithm.parameterAsOutputLayer(parameters, key, context)
    if path and not path.lower().endswith((".tif", ".tiff")):
        return algorithm.reject(key, path, algorithm.tr("the map is written as GeoTIFF: give a .tif file name"))
    return True, ""
