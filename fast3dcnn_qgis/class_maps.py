"""Writing a classifier's class map (and confidence) of a whole raster: shared by classify and by
train, which can map the scene right after fitting."""
import contextlib

from .raster_io import (PREDICTION_BLOCK_PIXELS, ClassMapWriter, confidence_writer, count_blocks, read_blocks)

#: Patches per network call during prediction.
PREDICTION_BATCH = 1024


def classify_scene(classifier, dataset, info, output_path, confidence_path, progress):
    """Writes the class map (and the confidence raster when ``confidence_path``) of ``dataset``.

    Blocks carry a halo of S // 2 pixels so every pixel sees its whole patch; both files are
    written under temporary names and renamed only once every block is done, so Cancel or an
    error leaves nothing behind.
    """
    from .core.prediction import predict_blocks

    halo = classifier.window // 2
    total = count_blocks(info, halo, max_pixels=PREDICTION_BLOCK_PIXELS)
    with contextlib.ExitStack() as stack:
        classes = stack.enter_context(ClassMapWriter(output_path, info, classifier.classes))
        confidence = (stack.enter_context(confidence_writer(confidence_path, info))
                      if confidence_path else None)
        blocks = read_blocks(dataset, halo, max_pixels=PREDICTION_BLOCK_PIXELS)
        for done, (block, labels, certainty) in enumerate(
                predict_blocks(classifier, blocks, PREDICTION_BATCH), start=1):
            progress.check_cancel()
            classes.write(block.row, block.col, labels)
            if confidence is not None:
                confidence.write(block.row, block.col, certainty)
            progress(100.0 * done / total)
        progress.check_cancel()
        classes.commit()
        if confidence is not None:
            confidence.commit()


def check_output_extension(algorithm, parameters, context, key):
    """Rejects a destination whose extension is not GeoTIFF (the writer only writes GeoTIFF)."""
    path = algorithm.parameterAsOutputLayer(parameters, key, context)
    if path and not path.lower().endswith((".tif", ".tiff")):
        return algorithm.reject(key, path, algorithm.tr("the map is written as GeoTIFF: give a .tif file name"))
    return True, ""
