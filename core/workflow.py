"""The paper's whole training recipe over a scene given as blocks: the one entry point the plugin,
the benchmarks and the tests share.

Steps: fit the reduction on a streamed pixel sample, reduce the scene into an (H, W, B) cube (in
memory, or a temporary memory-mapped file for large scenes), split the labelled pixels, train,
and score the held-out test pixels. Each step is a function of its own; ``train_classifier``
only runs them in order and keeps the record.
"""
import platform
import time
from dataclasses import replace

import keras
import numpy as np
import sklearn

from .bands import format_band_ranges, kept_bands
from .batch_loop import SCORING_BATCH, predict
from .baseline import PixelSpectra, svm_baseline, verdict
from .classes import ClassTable
from .classifier import Fast3DCNNClassifier
from .cotraining import RESEED, ROUNDS, applies, pool_mask, pseudo_labels
from .errors import InputError, check_cancel
from .metrics import accuracy_report
from .patches import PatchDataset
from .record import RunRecord
from .reduction import SpectralReducer
from .settings import TrainingSettings
from .tile_training import TileDataset, predict_on_tiles, tile_trainer, tiling_gain
from .splits import Split, labelled_pixels, make_split, make_split_per_scene, validation_into_training
from .training import train_network

#: The test figures each co-training round records.
SUMMARY = ("overall_accuracy", "average_accuracy", "kappa")
#: Share of the progress bar taken by each phase of ``train_classifier``.
PHASES = {"bands": (0, 4), "pca": (4, 10), "reduce": (10, 20), "train": (20, 95), "test": (95, 100)}


def software_versions():
    return {"python": platform.python_version(), "numpy": np.__version__, "scikit-learn": sklearn.__version__,
            "keras": keras.__version__, "keras_backend": keras.backend.backend()}


def reduce_scene(reducer, blocks, height, width, spill_path=None, should_cancel=None):
    """The (H, W, B) float32 cube of scaled PCA scores, zero at invalid pixels, and the validity mask.

    With ``spill_path`` the cube is a memory-mapped file there, for scenes whose cube does not fit
    in memory.
    """
    shape = (height, width, reducer.n_components)
    if spill_path:
        cube = np.lib.format.open_memmap(spill_path, mode="w+", dtype=np.float32, shape=shape)
    else:  # zeros: pixels no block covers (the blank rows of a mosaic) are blank
        cube = np.zeros(shape, dtype=np.float32)
    valid = np.zeros((height, width), dtype=bool)
    for block in blocks:
        check_cancel(should_cancel)
        rows, cols = block.shape
        scores, ok = reducer.transform_block(block.data)
        cube[block.row:block.row + rows, block.col:block.col + cols] = scores
        valid[block.row:block.row + rows, block.col:block.col + cols] = ok
    return cube, valid


def _tracked(blocks, progress, height, width):
    """Passes ``blocks`` on, reporting after each the share of the scene's pixels done, which the
    position of a block in row-major order tells without reading the scene once more to count them."""
    for block in blocks:
        yield block
        if progress is not None:
            rows, cols = block.shape
            progress((block.row * width + (block.col + cols) * rows) / (height * width))


def _phase(progress, name, part=(0, 1)):
    """A callable mapping a fraction of one phase (of its ``part`` = (i, n): the i-th of n equal
    parts) to the overall percentage."""
    low, high = PHASES[name]
    i, n = part
    low, high = low + (high - low) * i / n, low + (high - low) * (i + 1) / n
    return (lambda fraction: progress(low + (high - low) * min(max(fraction, 0.0), 1.0))) if progress else None


class _Scene:
    """The scene as the steps see it: a callable returning a fresh iterator of raw blocks, its size,
    and the progress, cancel and log callables of the run."""

    def __init__(self, blocks, height, width, progress, should_cancel, log):
        self.blocks, self.height, self.width = blocks, height, width
        self.progress, self.should_cancel, self.log = progress, should_cancel, log

    def tracked_blocks(self, phase):
        return _tracked(self.blocks(), _phase(self.progress, phase), self.height, self.width)


def _fit_reducer(scene, kept, nodata, settings):
    reducer = SpectralReducer(kept, nodata, settings.components, scale=settings.training.component_scale,
                              standardise_bands=settings.training.standardise_bands)
    if reducer.standardise_bands:
        reducer.fit_band_statistics((block.data for block in scene.tracked_blocks("bands")),
                                    settings.pca_sample_step, should_cancel=scene.should_cancel)
    reducer.fit_blocks((block.data for block in scene.tracked_blocks("pca")), settings.pca_sample_step,
                       should_cancel=scene.should_cancel)
    scene.log(f"PCA: {len(kept)} bands -> {settings.components} components, "
              f"{100 * reducer.explained_variance_ratio_.sum():.2f}% of the variance, {reducer.n_fit_pixels_} pixels")
    return reducer


def _labelled(label_grid, valid, log):
    """rows, cols, labels of the labelled valid pixels, the class ids, and how many labelled pixels
    were invalid in the raster."""
    label_grid = np.asarray(label_grid)
    n_invalid = int(((label_grid != 0) & ~valid).sum())
    rows, cols, labels = labelled_pixels(np.where(valid, label_grid, 0))
    class_ids = np.unique(labels)
    if len(class_ids) < 2:
        raise InputError(f"the ground truth has {len(class_ids)} labelled class on valid pixels of the raster: "
                         f"a classifier needs at least two classes")
    if n_invalid:
        log(f"{n_invalid} labelled pixels are nodata or non-finite in the raster and were left out")
    return rows, cols, labels, class_ids, n_invalid


def _train(scene, cube, rows, cols, targets, split, n_classes, config, part=(0, 1)):
    """train_network with progress, as the ``part`` (i, n) of the training phase."""
    train_progress = _phase(scene.progress, "train", part)

    def on_batch(epoch, batch, batches):
        if train_progress:
            train_progress((epoch + batch / batches) / config.epochs)

    return train_network(cube, rows, cols, targets, split, n_classes, config, on_batch, scene.should_cancel)


def _softmax(model, cube, rows, cols, config):
    """The network's class probabilities for the pixels (rows, cols), on tiles where that is cheaper."""
    if tiling_gain(rows, cols, config.window, cube.shape[2]) > 1:
        return predict_on_tiles(tile_trainer(model), TileDataset(cube, rows, cols, None, config.window, SCORING_BATCH,
                                                                 padding=config.padding))
    return predict(model, PatchDataset(cube, rows, cols, None, config.window, SCORING_BATCH, config.padding))


def _split(rows, cols, labels, settings, classes, mosaic):
    """The split of the labelled pixels: within each raster of a mosaic, and on the disjoint split
    with the validation pixels no test patch reaches moved into training when the recipe says so."""
    config = settings.training
    if mosaic is None or len(mosaic.sizes) == 1:
        split = make_split(rows, cols, labels, settings.split, settings.split_value, config.seed, config.window,
                           classes.names)
    elif config.padding != "zero":
        raise InputError(f"padding '{config.padding}' needs a single raster: several rasters are trained with "
                         f"zero padding at their edges")
    else:
        split = make_split_per_scene(rows, cols, labels, mosaic.scene_of_rows(rows), settings.split,
                                     settings.split_value, config.seed, config.window, classes.names, mosaic.names)
    if config.validation_into_training and split.method == "disjoint":
        # In a random split nearly every validation pixel neighbours a test pixel: moving the few
        # others would add little and lose the validation curves.
        split = validation_into_training(split, rows, cols, config.window)
    return split


def _baseline(spectra, pixels, split, names, seed, pool, timings, runner):
    """The SVM baseline on the split's pixels (``pixels``: rows, cols, labels), with the classes it
    gives the ``pool`` spectra (None: none asked for) under "pool_classes", or None when it is
    switched off or could not run."""
    if spectra is None:
        return None
    baseline = runner(svm_baseline, spectra, *pixels, split, names, seed, pool)
    if baseline is not None:
        timings["baseline_seconds"] = baseline["seconds"]
    return baseline


def _pool(pool_spectra, valid, rows, cols, split):
    """rows, cols and spectra of the pool's valid pixels that are not training pixels."""
    if pool_spectra is None:
        return None
    height, width = valid.shape
    usable = valid.ravel()[pool_spectra.positions]
    usable[np.isin(pool_spectra.positions, rows[split.train] * width + cols[split.train])] = False
    pool_rows, pool_cols = np.divmod(pool_spectra.positions[usable], width)
    return pool_rows, pool_cols, pool_spectra.spectra[usable]


def _cotrain(scene, cube, pixels, split, class_ids, config, first, pool, svm_classes, score, timings):
    """The network trained again, ROUNDS times from new weights, on the training pixels plus the
    pool's pixels where the last network and the SVM agree (core.cotraining); and per round the
    pseudo-labels and the test figures ``score(model)`` gives; with the last network's whole figures."""
    rows, cols, targets = pixels
    pool_rows, pool_cols = pool
    train_counts = np.bincount(targets[split.train], minlength=len(class_ids))
    result, rounds, first_accuracy = first, [], score(first.model)
    timings["first_train_seconds"], timings["pool_seconds"] = first.seconds, 0.0
    for round_ in range(1, ROUNDS + 1):
        start = time.perf_counter()
        softmax = _softmax(result.model, cube, pool_rows, pool_cols, config)
        chosen, classes = pseudo_labels(np.argmax(softmax, axis=-1), svm_classes, softmax.max(axis=-1), train_counts)
        timings["pool_seconds"] += time.perf_counter() - start
        scene.log(f"Co-training, round {round_} of {ROUNDS}: the network and the SVM agree, and the network is "
                  f"sure, on {len(chosen):,} of {len(pool_rows):,} pixels of the scene outside training; training "
                  f"again with them as labels")
        extended = Split(np.concatenate([split.train, len(rows) + np.arange(len(chosen))]), split.val, split.test,
                         split.method, split.value)
        result = _train(scene, cube, np.concatenate([rows, pool_rows[chosen]]),
                        np.concatenate([cols, pool_cols[chosen]]), np.concatenate([targets, classes]), extended,
                        len(class_ids), replace(config, seed=config.seed + RESEED * round_), (round_, ROUNDS + 1))
        figures = score(result.model)
        scene.log(f"Training {result.stop_reason} ({result.seconds:.1f} s): test OA "
                  f"{100 * figures['overall_accuracy']:.2f}%")
        rounds.append({"n_pseudo_labels": len(chosen), **{key: figures[key] for key in SUMMARY},
                       "pseudo_labels_per_class": dict(zip(class_ids.tolist(),
                                                           np.bincount(classes, minlength=len(class_ids)).tolist()))})
    return result, {"n_pool": len(pool_rows), "first_accuracy": first_accuracy, "rounds": rounds}, figures


def _split_record(split):
    return {"method": split.method, "value": split.value, "n_train": len(split.train), "n_val": len(split.val),
            "n_test": len(split.test), "description": split.describe()}


def train_classifier(blocks, height, width, band_count, label_grid, settings=None, classes=None, nodata=None,
                     spill_path=None, progress=None, should_cancel=None, log=None, mosaic=None, baseline_runner=None):
    """Trains a classifier on a scene. ``blocks`` is a callable returning a fresh iterator of raw
    blocks (no halo needed) over the scene, each time it is called (the scene is read twice).
    With ``mosaic`` (core.mosaic.Mosaic) the scene is several rasters on one canvas, and the split
    is drawn within each of them and pooled. ``baseline_runner(function, *arguments)`` runs the SVM
    baseline (the plugin runs it in a child process) and may return None to go without it.

    ``label_grid`` is (H, W) of user class ids, 0 = unlabelled; ``classes`` a ClassTable of the
    names and colours the user gave. Returns the classifier, whose ``record`` holds the test-set
    accuracy, the split, the history and timings. Raises ``InputError`` for settings or ground
    truth that cannot work, ``Cancelled`` when ``should_cancel()`` says so.
    """
    settings = settings or TrainingSettings()
    config = settings.training
    settings.check((width, height))
    classes = classes or ClassTable()
    scene = _Scene(blocks, height, width, progress, should_cancel, log or (lambda message: None))
    timings, start = {}, time.perf_counter()

    kept = kept_bands(band_count, settings.exclude_bands)
    reducer = _fit_reducer(scene, kept, nodata, settings)
    timings["pca_seconds"], start = time.perf_counter() - start, time.perf_counter()
    spectra = PixelSpectra(np.asarray(label_grid) != 0, kept, seed=config.seed) if settings.baseline else None
    cotraining = applies(config.cotraining, settings.split)
    pool_spectra = PixelSpectra(pool_mask((height, width), config.seed), kept, limit=height * width) \
        if cotraining and spectra else None
    blocks = scene.tracked_blocks("reduce")
    for gatherer in (spectra, pool_spectra):
        blocks = gatherer.gathering(blocks) if gatherer else blocks
    cube, valid = reduce_scene(reducer, blocks, height, width, spill_path, should_cancel)
    timings["reduce_seconds"] = time.perf_counter() - start

    rows, cols, labels, class_ids, n_invalid = _labelled(label_grid, valid, scene.log)
    split = _split(rows, cols, labels, settings, classes, mosaic)
    scene.log(f"Split {split.describe()}")
    table = classes.subset(class_ids).completed()
    names = {c.id: c.label for c in table}
    pool = _pool(pool_spectra, valid, rows, cols, split)
    baseline = _baseline(spectra, (rows, cols, labels), split, names, config.seed, pool[2] if pool else None, timings,
                         baseline_runner or (lambda function, *arguments: function(*arguments)))
    svm_classes = baseline.pop("pool_classes", None) if baseline else None
    if cotraining and svm_classes is None:
        scene.log("No co-training: it trains on pixels where the network and the SVM baseline agree, and the "
                  "baseline is switched off or did not run")
    targets = np.searchsorted(class_ids, labels)
    test_rows, test_cols = rows[split.test], cols[split.test]

    def score(model):
        """``model``'s figures on the test pixels; the time its prediction took is the record's."""
        start = time.perf_counter()
        predicted = class_ids[np.argmax(_softmax(model, cube, test_rows, test_cols, config), axis=-1)]
        timings["test_seconds"] = time.perf_counter() - start
        return accuracy_report(labels[split.test], predicted, class_ids, names)

    result = _train(scene, cube, rows, cols, targets, split, len(class_ids), config,
                    (0, ROUNDS + 1) if svm_classes is not None else (0, 1))
    scene.log(f"Training {result.stop_reason} ({result.seconds:.1f} s)")
    cotrained = None
    if svm_classes is not None:
        result, cotrained, accuracy = _cotrain(scene, cube, (rows, cols, targets), split, class_ids, config, result,
                                               pool[:2], np.searchsorted(class_ids, svm_classes), score, timings)
    else:
        accuracy = score(result.model)
    timings.update(train_seconds=result.seconds, train_patches_per_second=result.patches_per_second)
    if baseline:
        scene.log(verdict(accuracy, baseline))
    if progress:
        progress(100)
    record = RunRecord(
        accuracy=accuracy,
        classes=table, versions=software_versions(), settings=settings.as_dict(),
        model={"kept_bands": format_band_ranges(kept),
               "explained_variance_ratio": float(reducer.explained_variance_ratio_.sum()),
               "parameters": int(result.model.count_params()), "training_layout": result.layout,
               "tiling_gain": round(result.tiling_gain, 2), "training_dtype": result.dtype},
        split=_split_record(split), history=result.history, best_epoch=result.best_epoch,
        stop_reason=result.stop_reason, baseline=baseline, cotraining=cotrained,
        timings=timings, n_labelled_invalid_excluded=n_invalid)
    return Fast3DCNNClassifier(reducer=reducer, network=result.model, window=config.window, classes=table,
                               input_band_count=band_count, padding=config.padding, record=record)
