"""Whole-scene prediction over raw pixel blocks: bands, PCA, network, labels and confidence.

Each block arrives with a halo of S // 2 pixels where the scene has them; past the scene's edges
the reduced block is padded exactly as training padded its patches, so every pixel is classified
as if the whole scene were in memory while memory stays bounded by the block.
"""
import numpy as np

from .patches import check_window


def reduce_block(classifier, block):
    """The standardised PCA scores of ``block``, padded to a full halo of S // 2, and the core's validity."""
    half = classifier.window // 2
    scores, valid = classifier.reducer.transform_block(block.data)
    top, bottom, left, right = block.halo
    rows, cols = block.shape
    pad = ((half - top, half - bottom), (half - left, half - right), (0, 0))
    scores = scores[max(0, top - half):top + rows + min(bottom, half),
                    max(0, left - half):left + cols + min(right, half)]
    pad = tuple((max(0, a), max(0, b)) for a, b in pad[:2]) + ((0, 0),)
    mode = "reflect" if classifier.padding == "reflect" else "constant"
    return np.pad(scores, pad, mode=mode), valid[top:top + rows, left:left + cols]


def patch_probabilities(network, padded, window, batch_size=1024):
    """Softmax (rows, cols, classes) of the patch network for each core pixel of a padded block."""
    rows, cols = padded.shape[0] - window + 1, padded.shape[1] - window + 1
    windows = np.lib.stride_tricks.sliding_window_view(padded, (window, window), axis=(0, 1))
    windows = windows.reshape(rows * cols, padded.shape[2], window, window)
    out = []
    for start in range(0, rows * cols, batch_size):
        batch = np.ascontiguousarray(windows[start:start + batch_size].transpose(0, 2, 3, 1))[..., None]
        out.append(np.asarray(network.predict_on_batch(batch)))
    return np.concatenate(out).reshape(rows, cols, -1)


def predict_blocks(classifier, blocks, batch_size=1024):
    """Yields (block, labels, confidence) for each raw block: labels are the user's class ids
    (0 at invalid pixels), confidence the maximum softmax probability as float32 (0 at invalid
    pixels)."""
    check_window(classifier.window)
    class_ids = np.asarray(classifier.class_ids)
    for block in blocks:
        padded, valid = reduce_block(classifier, block)
        probabilities = patch_probabilities(classifier.network, padded, classifier.window, batch_size)
        labels = np.where(valid, class_ids[probabilities.argmax(axis=-1)], 0)
        confidence = np.where(valid, probabilities.max(axis=-1), 0).astype(np.float32)
        yield block, labels, confidence
