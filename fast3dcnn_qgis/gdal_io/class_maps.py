"""A classifier's predictions over a whole raster, block by block: the class map written with its
confidence and class probabilities, and the predictions other whole-scene work (suggest) reads."""
import contextlib

from .reading import HALO_CACHE_BYTES, PREDICTION_BLOCK_PIXELS, count_blocks, read_blocks
from .writing import map_writers, rejection_note

#: Patches per network call during prediction.
PREDICTION_BATCH = 1024
#: GDAL's cache while a scene is read for the network (read_blocks' ``cache_bytes``), by arithmetic. In
#: bfloat16 the network outpaces a reader that drops the cache after each block: on bench_ceiling.py's
#: scene (2-core Intel Xeon with AMX) classify ran at 75,500-79,200 px/s with it against 58,800-60,400
#: without, peak memory 1,451-1,459 MB against 1,315-1,321. In float32 the network's larger activations
#: take that memory (1,478 MB without the cache, 1,599 MB with it) for a smaller gain (36,400-39,600 px/s
#: against 33,700-34,500): the cache is dropped after each block, as it was.
READ_CACHE_BYTES = {"mixed_bfloat16": HALO_CACHE_BYTES, "float32": 0}
#: What the log says of each arithmetic the network can map in.
ARITHMETIC = {"float32": "Arithmetic: float32",
              "mixed_bfloat16": "Arithmetic: bfloat16 (PRECISION; float32 weights, bfloat16 products, which the "
                                "processor computes natively; a few labels of a thousand may differ from float32)"}


def classify_scene(classifier, dataset, info, output_path, progress, confidence_path=None, probabilities_path=None,
                   min_confidence=0.0, precision="auto"):
    """Writes the class map of ``dataset``, and the confidence and per-class probability rasters
    when their paths are given; returns how many valid pixels were left unclassified because their
    top probability was below ``min_confidence``. ``precision`` (core.settings.PRECISIONS) is the
    network's arithmetic: "auto" computes in bfloat16 where the processor does so natively.

    Blocks carry a halo of S // 2 pixels so every pixel sees its whole patch (and the smoothing's radius
    more where the model smooths its map, core.smoothing); every file is written
    under a temporary name and renamed only once every block is done, so Cancel or an error leaves
    nothing behind.
    """
    from ..core.precision import training_dtype

    dtype = training_dtype(precision)
    progress.log(ARITHMETIC[dtype])
    with contextlib.ExitStack() as stack:
        writers = map_writers(output_path, info, classifier.classes, confidence_path, probabilities_path)
        for writer in writers.values():
            stack.enter_context(writer)
        rejected = 0
        for prediction in scene_predictions(classifier, dataset, info, dtype, progress, min_confidence):
            for name, writer in writers.items():
                writer.write(prediction.block.row, prediction.block.col, getattr(prediction, name))
            rejected += prediction.n_rejected
        progress.check_cancel()
        for writer in writers.values():
            writer.commit()
    if min_confidence > 0:
        progress.log(rejection_note(rejected, min_confidence))
    return rejected


def scene_predictions(classifier, dataset, info, dtype, progress, min_confidence=0.0):
    """The classifier's BlockPrediction (core.prediction) of each block of ``dataset`` in arithmetic
    ``dtype``, Cancel checked before each is handed over and progress moved once the caller is done
    with it: the blocks, their halo and GDAL's cache are the same for every whole-scene prediction."""
    from ..core.prediction import predict_blocks

    halo = classifier.halo
    total = count_blocks(info, halo, max_pixels=PREDICTION_BLOCK_PIXELS)
    blocks = read_blocks(dataset, halo, max_pixels=PREDICTION_BLOCK_PIXELS, cache_bytes=READ_CACHE_BYTES[dtype])
    predictions = predict_blocks(classifier, blocks, PREDICTION_BATCH, min_confidence=min_confidence, dtype=dtype)
    for done, prediction in enumerate(predictions, start=1):
        progress.check_cancel()
        yield prediction
        progress.progress(done / total)
