"""Training, scoring and prediction batch by batch, each batch handed straight to the compiled step.

Keras's ``fit``, ``evaluate`` and ``predict`` feed a PyDataset through a data pipeline (on TensorFlow,
tf.data's ``from_generator``): on two CPU cores that pipeline cost 8-10 ms of each 31 ms training step
of Indian Pines at S = 11 (tiles of 8, mixed bfloat16), where the same step through
``train_on_batch`` took 22 ms (the gradients alone 19.5 ms). Here each batch our datasets build goes
to ``train_on_batch``, ``test_on_batch`` or ``predict_on_batch``, the steps ``fit`` would run:
traced once by TensorFlow (``tf.function``), compiled by JAX (``jit``), run eagerly by PyTorch.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import keras

#: Pixels per batch where the network only scores (validation, test, pool pixels): a forward pass
#: holds no gradients, so larger batches fit and take fewer steps.
SCORING_BATCH = 1024


def _pixels(batch):
    """Real pixels in a batch (inputs, targets[, weights]): TileDataset pads its last batch with
    slots of weight 0."""
    return float(np.sum(batch[2])) if len(batch) > 2 else len(batch[1])


def _mean_logs(model, data, step, after_batch=None):
    """(mean loss over batches, accuracy over real pixels) of ``step`` (a bound train_on_batch or
    test_on_batch) over ``data``; ``after_batch(index)`` is called after each batch."""
    losses, hits, pixels = [], 0.0, 0.0
    for index in range(len(data)):
        batch = data[index]
        logs = step(*batch, return_dict=True)
        weight = _pixels(batch)
        losses.append(logs["loss"])
        hits, pixels = hits + logs["accuracy"] * weight, pixels + weight
        if after_batch is not None:
            after_batch(index)
    return float(np.mean(losses)), hits / max(pixels, 1.0)


def train_epoch(model: "keras.Model", data: "keras.utils.PyDataset",
                after_batch: Callable[[int], object] | None = None) -> tuple[float, float]:
    """One epoch of ``model`` (compiled with an "accuracy" metric) over ``data``, a dataset of this
    package; returns (mean loss, accuracy over the real pixels). ``after_batch(index)`` runs after
    each batch (it may raise to stop)."""
    logs = _mean_logs(model, data, model.train_on_batch, after_batch)
    data.on_epoch_end()
    return logs


def evaluate(model: "keras.Model", data: "keras.utils.PyDataset") -> tuple[float, float]:
    """(mean loss, accuracy over the real pixels) of ``model`` on ``data``, with no training."""
    return _mean_logs(model, data, model.test_on_batch)


def predict(model: "keras.Model", data: "keras.utils.PyDataset") -> np.ndarray:
    """``model``'s outputs for every batch of ``data`` (inputs only), concatenated."""
    return np.concatenate([np.asarray(model.predict_on_batch(data[index][0])) for index in range(len(data))])
