"""Training the network on patches gathered on the fly, with progress, cancellation and history.

Defaults are the paper's: Adam with learning rate 1e-3, batch 256, 50 epochs, and the dropout of
0.4 used in the author's code. Runs are seeded so the same data and seed give the same model on the
same machine.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from functools import partial

import keras
import numpy as np
from numpy.typing import ArrayLike

from .batch_loop import SCORING_BATCH, evaluate, train_epoch
from .checkpoints import Checkpoints
from .network import build_fast3dcnn
from .patches import PatchDataset
from .precision import training_dtype
from .progress import SILENT, Reporter
from .settings import HELD_OUT_SPLITS, MIN_TILING_GAIN, TrainingConfig
from .spectral_conv import patch_trainer
from .splits import Split
from .tile_training import TRAINING_TILE_CORE, TileDataset, tile_trainer, tiling_gain


class _BestEpoch:
    """Follows the validation accuracy: keeps the weights of its best epoch and says when to stop,
    once ``patience`` epochs (0: never) pass without a better one."""

    def __init__(self, patience):
        self.patience = patience
        self.best, self.best_epoch, self.weights, self.stopped_after = -np.inf, None, None, None

    def stops(self, model, epoch, score):
        """Records ``score``, the validation accuracy after ``epoch``; True when training should stop."""
        if score > self.best:
            self.best, self.best_epoch, self.weights = score, epoch, model.get_weights()
        # Every validation pixel right: no later epoch can do better.
        if self.patience and (score >= 1.0 or epoch - self.best_epoch >= self.patience):
            self.stopped_after = epoch
        return self.stopped_after is not None


@dataclass
class TrainingResult:
    model: keras.Model
    history: dict[str, list[float | None]]  # per-epoch lists: loss, accuracy, val_loss, val_accuracy
    seconds: float
    patches_per_second: float
    best_epoch: int | None = None  # 0-based epoch whose weights were restored, else None
    stop_reason: str = ""   # why training ended when it did, in words for the report
    layout: str = "patches"  # how the batches were computed: "tiles" or "patches"
    tiling_gain: float = 1.0  # times fewer multiply-adds on tiles than on patches (tile_training)
    dtype: str = "float32"  # the Keras dtype policy training used


def train_network(cube: np.ndarray, rows: ArrayLike, cols: ArrayLike, targets: ArrayLike, split: Split,
                  n_classes: int, config: TrainingConfig | None = None,
                  reporter: Reporter = SILENT, checkpoints: Checkpoints | None = None) -> TrainingResult:
    """Trains a new network on ``cube`` (H, W, B) at the labelled pixels of ``split``.

    ``rows``, ``cols`` and ``targets`` (class indices 0..n_classes-1) are parallel arrays over the
    labelled pixels; ``split.train`` and ``split.val`` index them. After each batch ``reporter``
    hears the share of the epochs done and is asked whether to stop: then training stops cleanly
    and raises ``Cancelled``. With ``checkpoints`` (bound to ``cube``) the state is saved every few
    epochs, and a state saved by an earlier, interrupted run of the same training is resumed.
    """
    config = config or TrainingConfig()
    keras.utils.set_random_seed(config.seed)
    rows, cols, targets = np.asarray(rows), np.asarray(cols), np.asarray(targets)
    bands = cube.shape[2]
    gain = tiling_gain(rows[split.train], cols[split.train], config.window, bands, TRAINING_TILE_CORE)
    # On the held-out splits, whose point is new ground, "auto" trains patch by patch: batches drawn
    # from the whole training set generalise better there than batches of a few neighbourhoods.
    on_tiles = config.layout == "tiles" or (config.layout == "auto" and gain >= MIN_TILING_GAIN
                                            and split.method not in HELD_OUT_SPLITS)
    train_data, val_data = _datasets(cube, rows, cols, targets, split, config, on_tiles)
    dtype = training_dtype(config.precision)
    network = build_fast3dcnn(config.window, bands, n_classes, config.dropout, dtype, config.initializer)
    model = tile_trainer(network, TRAINING_TILE_CORE) if on_tiles else patch_trainer(network)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=_learning_rate(config, len(train_data))),
                  loss="sparse_categorical_crossentropy", weighted_metrics=["accuracy"])
    watch = _BestEpoch(config.patience) if val_data is not None else None
    restore = watch is not None and (config.keep_best or config.patience > 0)
    state = None if checkpoints is None else checkpoints.state_file(
        (rows, cols, targets, split.train, split.val),
        {**config.as_dict(), "n_classes": n_classes, "dtype": dtype, "tiles": on_tiles})
    history, seconds = _epochs(model, train_data, val_data, watch, config, reporter, state)
    epochs_run = len(history["loss"])
    best_epoch = _restore_best(model, watch, restore)
    if dtype != "float32":  # the network the model file and classification will use
        trained, network = network, build_fast3dcnn(config.window, bands, n_classes, config.dropout)
        network.set_weights(trained.get_weights())
    return TrainingResult(network, history, seconds, len(split.train) * epochs_run / max(seconds, 1e-9),
                          best_epoch, _stop_reason(config, watch, restore, epochs_run),
                          "tiles" if on_tiles else "patches", gain, dtype)


def _datasets(cube, rows, cols, targets, split, config, on_tiles):
    """The training batches, shuffled and with noise, and the validation batches (None: no
    validation pixels), on tiles or patches."""
    batches = partial(TileDataset, core=TRAINING_TILE_CORE) if on_tiles else PatchDataset

    def dataset(part, training, batch_size=config.batch_size):
        return batches(cube, rows[part], cols[part], targets[part], window=config.window,
                       batch_size=batch_size, padding=config.padding, shuffle=training, seed=config.seed,
                       noise=config.spectral_noise if training else 0.0)

    return dataset(split.train, True), dataset(split.val, False, SCORING_BATCH) if len(split.val) else None


def _epochs(model, train_data, val_data, watch, config, reporter, state):
    """The per-epoch history of training ``model`` on ``train_data`` for ``config.epochs`` epochs, or
    fewer once ``watch`` (None: no ``val_data``) says that the validation pixels stopped improving; and
    the seconds training took, over every run that got there where ``state`` resumes an earlier one."""
    validated = set(_validated_epochs(config.epochs, config.validation_every))
    history: dict[str, list[float | None]] = {key: [] for key in ("loss", "accuracy", "val_loss", "val_accuracy")}
    earlier = _resume(state, model, train_data, watch, history, reporter) if state else 0.0
    start = time.perf_counter()
    stopped = watch is not None and watch.stopped_after is not None
    for epoch in range(len(history["loss"]), 0 if stopped else config.epochs):
        logs = dict(zip(("loss", "accuracy"), train_epoch(model, train_data, partial(
            _after_batch, reporter, epoch, len(train_data), config.epochs))))
        if watch is not None and epoch in validated:
            logs.update(zip(("val_loss", "val_accuracy"), evaluate(model, val_data)))
        for key, values in history.items():
            values.append(logs.get(key))
        stopped = "val_accuracy" in logs and watch.stops(model, epoch, logs["val_accuracy"])
        if state and state.due(epoch + 1, stopped or epoch + 1 == config.epochs) and \
                not _save(state, model, train_data, watch, history, earlier + time.perf_counter() - start, reporter):
            state = None
        if stopped:
            break
    return history, earlier + time.perf_counter() - start


def _save(state, model, train_data, watch, history, seconds, reporter):
    """Writes the training's state after the epochs of ``history``, ``seconds`` into it; False, with a
    warning, where it cannot be written: a checkpoint is a safeguard, never a reason to stop."""
    model.optimizer.build(model.trainable_variables)
    try:
        state.save({"history": history, "seconds": seconds, "noise": train_data.noise_state(),
                    "watch": None if watch is None else [watch.best, watch.best_epoch, watch.stopped_after]},
                   {"model": [variable.numpy() for variable in model.variables],
                    "optimizer": [variable.numpy() for variable in model.optimizer.variables],
                    "best": [] if watch is None or watch.weights is None else watch.weights})
    except OSError as error:
        reporter.warn(f"No checkpoints this time: {os.path.dirname(state.path)} cannot be written "
                      f"({error.strerror or error}); the training goes on without them")
        return False
    return True


def _resume(state, model, train_data, watch, history, reporter):
    """Gives ``model``, ``train_data``, ``watch`` and ``history`` the state saved in ``state`` (if
    any) and returns the training seconds it had taken."""
    saved = state.load()
    if saved is None:
        if state.announce:
            reporter.log(f"Checkpoints every {state.every} epochs in {os.path.dirname(state.path)}: if this run "
                         f"is stopped, the same command run again goes on from the last one")
        return 0.0
    meta, arrays = saved
    model.optimizer.build(model.trainable_variables)
    for variables, values in ((model.variables, arrays["model"]), (model.optimizer.variables, arrays["optimizer"])):
        for variable, value in zip(variables, values, strict=True):
            variable.assign(value)
    history.update(meta["history"])
    for _ in history["loss"]:  # the batch order each finished epoch left behind
        train_data.on_epoch_end()
    train_data.set_noise_state(meta["noise"])
    if watch is not None:
        watch.best, watch.best_epoch, watch.stopped_after = meta["watch"]
        watch.weights = arrays["best"] or None
    reporter.log(f"Resuming the training from its checkpoint after epoch {len(history['loss'])} "
                 f"({os.path.basename(state.path)})")
    return meta["seconds"]


def _restore_best(model, watch, restore):
    """Gives ``model`` the weights of its best validation epoch where ``restore`` asks for them;
    that epoch, or None where none was restored."""
    if watch is None or not restore or watch.weights is None:
        return None
    model.set_weights(watch.weights)
    return watch.best_epoch


def _learning_rate(config, steps_per_epoch):
    """Adam's learning rate: ``config.learning_rate`` throughout, or with the cosine schedule rising to it
    over the first epoch and falling along a half cosine to 1% of it at the last of ``config.epochs``."""
    if config.schedule == "constant":
        return config.learning_rate
    warmup = steps_per_epoch if config.epochs > 1 else 0
    return keras.optimizers.schedules.CosineDecay(
        0.0, max(config.epochs * steps_per_epoch - warmup - 1, 1), alpha=0.01, warmup_target=config.learning_rate,
        warmup_steps=warmup)


def _stop_reason(config, watch, restore, epochs_run):
    if watch is not None and watch.stopped_after is not None:
        stopped = f"stopped after epoch {epochs_run} of at most {config.epochs}: "
        if watch.best >= 1.0:
            return stopped + "every validation pixel was classified correctly"
        return stopped + (f"the validation accuracy had not improved for {config.patience} epochs since epoch "
                          f"{watch.best_epoch + 1} ({100 * watch.best:.2f}%), whose weights were kept")
    ran = f"ran all {config.epochs} epochs" if config.epochs > 1 else "ran its one epoch"
    if watch is None and config.patience:
        return f"{ran}: there are no validation pixels to tell when to stop"
    reason = ran + ("" if config.patience else " (no early stopping)")
    if restore:
        reason += f"; the weights of epoch {watch.best_epoch + 1} ({100 * watch.best:.2f}%) were kept"
    return reason


def _after_batch(reporter, epoch, batches, epochs, index):
    """Reports the batch just trained and raises Cancelled when the caller asks to stop."""
    reporter.progress((epoch + (index + 1) / batches) / epochs)
    reporter.check_cancel()


def _validated_epochs(epochs, every):
    """The 0-based epochs after which the validation pixels are scored: every ``every``-th and the last."""
    return sorted({*range(every - 1, epochs, every), epochs - 1})
