"""Whole-scene prediction over raw pixel blocks: bands, PCA, network, labels and confidence.

Each block arrives with a halo of S // 2 pixels where the scene has them; past the scene's edges
the reduced block is padded exactly as training padded its patches, so every pixel is classified
as if the whole scene were in memory while memory stays bounded by the block.

The network runs fully convolutionally by default (``fully_conv``: the same probabilities at about
a seventh of the arithmetic); ``method="patch"`` runs the patch network on one S x S patch per pixel,
the reference the fully convolutional path is tested and benchmarked against.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Literal, NamedTuple

import numpy as np

from .blocks import Block
from .class_balance import balanced
from .errors import InputError
from .forest import fused_probabilities
from .fully_conv import DEFAULT_BUDGET_BYTES, fully_convolutional, tiled_probabilities
from .settings import check_window
from .smoothing import smoothed_block

if TYPE_CHECKING:
    import keras

    from .classifier import Fast3DCNNClassifier

METHODS = ("fully_convolutional", "patch")


class BlockPrediction(NamedTuple):
    """What the network says about one block's core pixels (invalid pixels: label 0, confidence 0,
    probabilities -1)."""
    block: Block
    labels: np.ndarray          # (rows, cols) the user's class ids; 0 invalid or rejected
    confidence: np.ndarray      # (rows, cols) float32 top probability
    probabilities: np.ndarray   # (rows, cols, classes) float32 softmax, in the classifier's class order
    n_rejected: int             # valid pixels left unclassified for a top probability below min_confidence


def reduce_block(classifier: "Fast3DCNNClassifier", block: Block) -> tuple[np.ndarray, np.ndarray]:
    """The scaled PCA scores of ``block``, padded to a full halo of S // 2, and the core's validity."""
    half = classifier.window // 2
    scores, valid = classifier.reducer.transform_block(block.data)
    top, bottom, left, right = block.halo
    rows, cols = block.shape
    pad: tuple[tuple[int, int], ...] = ((half - top, half - bottom), (half - left, half - right), (0, 0))
    scores = scores[max(0, top - half):top + rows + min(bottom, half),
                    max(0, left - half):left + cols + min(right, half)]
    pad = tuple((max(0, a), max(0, b)) for a, b in pad[:2]) + ((0, 0),)
    mode: Literal["reflect", "constant"] = "reflect" if classifier.padding == "reflect" else "constant"
    return np.pad(scores, pad, mode=mode), valid[top:top + rows, left:left + cols]


def pixel_probabilities(classifier: "Fast3DCNNClassifier", block: Block, valid: np.ndarray) -> list[np.ndarray]:
    """The class probabilities of the classifier's pixel models, its forest (core.forest) and SVM
    (core.pixel_svm), for the ``valid`` core pixels of ``block``, from their raw spectra; one array per
    model it holds (none: the network alone)."""
    models = [model for model in (classifier.forest, classifier.svm) if model is not None]
    if not models:
        return []
    top, _, left, _ = block.halo
    rows, cols = np.nonzero(valid)
    # One gather of the kept bands of the valid pixels: no copy of the bands left out.
    spectra = block.data[(top + rows)[:, None], (left + cols)[:, None], classifier.reducer.band_indices]
    return [model.probabilities(spectra) for model in models]


def widened(block: Block, radius: int) -> Block:
    """``block`` with its core grown by up to ``radius`` pixels into its halo on every side (as far as
    the halo goes), so that each core pixel's neighbours within ``radius`` are classified with it."""
    grow = tuple(min(radius, side) for side in block.halo)
    top, bottom, left, right = (side - extra for side, extra in zip(block.halo, grow))
    return Block(block.row - grow[0], block.col - grow[2], block.data, (top, bottom, left, right))


def patch_probabilities(network: "keras.Model", padded: np.ndarray, window: int, batch_size: int = 1024) -> np.ndarray:
    """Softmax (rows, cols, classes) of the patch network for each core pixel of a padded block."""
    rows, cols = padded.shape[0] - window + 1, padded.shape[1] - window + 1
    # numpy's types before 2.4 allow one ``axis`` only (unused-ignore: from 2.4 they are right).
    windows = np.lib.stride_tricks.sliding_window_view(  # type: ignore[call-overload, unused-ignore]
        padded, (window, window), axis=(0, 1))
    windows = windows.reshape(rows * cols, padded.shape[2], window, window)
    out = []
    for start in range(0, rows * cols, batch_size):
        batch = np.ascontiguousarray(windows[start:start + batch_size].transpose(0, 2, 3, 1))[..., None]
        out.append(np.asarray(network.predict_on_batch(batch)))
    return np.concatenate(out).reshape(rows, cols, -1)


def _prepared(blocks, prepare, ahead):
    """(block, prepare(block)) for each block; with ``ahead`` the next block is read and prepared in
    a worker thread while the caller works on the current one."""
    if not ahead:
        for block in blocks:
            yield block, prepare(block)
        return
    items = iter(blocks)

    def next_prepared():
        block = next(items, None)
        return None if block is None else (block, prepare(block))

    with ThreadPoolExecutor(max_workers=1) as worker:
        pending = worker.submit(next_prepared)
        while (done := pending.result()) is not None:
            pending = worker.submit(next_prepared)
            yield done


def predict_blocks(classifier: "Fast3DCNNClassifier", blocks: Iterable[Block], batch_size: int = 1024,
                   method: str = "fully_convolutional", budget_bytes: int = DEFAULT_BUDGET_BYTES,
                   prefetch: bool = True, dtype: str | None = None,
                   min_confidence: float = 0.0) -> Iterator[BlockPrediction]:
    """Yields a BlockPrediction for each raw block: the network's probabilities, or where the
    classifier holds a forest (and an SVM) their fusion with theirs (core.forest.fused_probabilities;
    theirs are computed with the block's reduction, in the prefetch thread when there is one), smoothed
    where the classifier has a smoothing radius (core.smoothing: each block then needs a halo of
    ``classifier.halo``, S // 2 plus the radius, and the ring of the radius is classified with it), and
    weighted by the classifier's class weights where it has them (core.class_balance). Pixels
    whose top probability is below ``min_confidence`` are left unclassified (label 0) and counted, for
    maps that should say "not sure" rather than guess.

    ``method`` is "fully_convolutional" (tiles of at most ``budget_bytes`` of activations) or
    "patch" (batches of ``batch_size`` patches). ``prefetch`` reads and reduces the next block in a
    worker thread while the network classifies this one: ``blocks`` is then advanced from that
    thread, so the reader must allow it. On the 1000 x 1000 x 200 int16 scene of bench_ceiling.py,
    classify's loop on 2 cores of an Intel Xeon with AMX ran at 93,000-108,000 pixels/s with it against
    81,000-88,000 without in bfloat16, and 37,000 against 31,000 in float32 (a first measurement, on a
    2000 x 2000 scene with other software and processor, had found the thread in the network's way:
    29,000 with it, 37,000 without). ``dtype`` is a Keras dtype policy for the fully convolutional network
    (None: float32): "mixed_bfloat16" was 1.8 to 2.4 times faster on an AVX-512 BF16 CPU, its
    probabilities moved by up to 0.018, and it changed 2 of Salinas-A's 7,138 labels and 18 of Indian
    Pines' 21,025 (default models on the paper split, Intel Xeon with AMX); the plugin's PRECISION
    chooses it where the processor computes it natively (core.precision).
    """
    check_window(classifier.window)
    window = classifier.window
    if method == "fully_convolutional":
        twin = fully_convolutional(classifier.network, dtype)

        def probabilities_of(padded):
            return tiled_probabilities(twin, padded, window, budget_bytes)
    elif method == "patch":
        def probabilities_of(padded):
            return patch_probabilities(classifier.network, padded, window, batch_size)
    else:
        raise InputError(f"prediction method '{method}' is not one of {', '.join(METHODS)}")
    class_ids = np.asarray(classifier.class_ids)
    radius = classifier.smoothing_radius

    def prepare(block):
        wide = widened(block, radius)
        padded, valid = reduce_block(classifier, wide)
        return wide, padded, valid, pixel_probabilities(classifier, wide, valid)

    for block, (wide, padded, valid, pixel_models) in _prepared(blocks, prepare, prefetch):
        probabilities = probabilities_of(padded).astype(np.float32)
        if pixel_models:
            probabilities[valid] = fused_probabilities(probabilities[valid], *pixel_models)
        if radius:
            top, left = block.row - wide.row, block.col - wide.col
            rows, cols = block.shape
            probabilities = smoothed_block(probabilities, valid, radius)[top:top + rows, left:left + cols]
            valid = valid[top:top + rows, left:left + cols]
        if classifier.class_weights is not None:
            probabilities[valid] = balanced(probabilities[valid], classifier.class_weights)
        confidence = np.where(valid, probabilities.max(axis=-1), 0).astype(np.float32)
        rejected = valid & (confidence < min_confidence)
        labels = np.where(valid & ~rejected, class_ids[probabilities.argmax(axis=-1)], 0)
        probabilities[~valid] = -1
        yield BlockPrediction(block, labels, confidence, probabilities, int(rejected.sum()))
