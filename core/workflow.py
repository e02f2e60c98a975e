"""The paper's whole training recipe over a scene given as blocks: the one entry point the plugin,
the benchmarks and the tests share.

Steps: fit the reduction on a streamed pixel sample, reduce the scene into an (H, W, B) cube (in
memory, or a temporary memory-mapped file for large scenes), split the labelled pixels, train,
and score the held-out test pixels. Each step is a function of its own; ``train_classifier``
only runs them in order and keeps the record. The scene comes as a ``Scene`` and the caller hears
of the run through one ``core.progress.Reporter``, whose span of the progress bar each phase takes
its part of (``PHASES``).
"""
from __future__ import annotations

import platform
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import Optional

import keras
import numpy as np
import sklearn

from .bands import format_band_ranges, kept_bands
from .batch_loop import SCORING_BATCH, predict
from .baseline import PixelSpectra, pixel_baselines, verdict
from .checkpoints import Checkpoints
from .class_balance import BALANCE_METHOD, EXPONENT, balanced, class_weights
from .classifier import Fast3DCNNClassifier
from .cotraining import RESEED, ROUNDS, applies, pool_mask, pseudo_labels, round_epochs
from .errors import InputError
from .forest import FUSION_METHOD, fused_model_name, fused_probabilities
from .metrics import accuracy_report
from .patches import PatchDataset
from .progress import SILENT, Reporter
from .record import RunRecord
from .reduction import SpectralReducer
from .scene import Scene, reduce_scene
from .settings import HELD_OUT_SPLITS, TrainingSettings
from .smoothing import AGREEMENT, MIN_PAIRS, SMOOTHING_METHOD, chosen_radius, neighbourhood, smoothed_at
from .tile_training import TileDataset, predict_on_tiles, tile_trainer, tiling_gain
from .splits import labelled_pixels, make_split, not_tested_message, validation_into_training
from .training import train_network

#: The test figures each co-training round records.
SUMMARY = ("overall_accuracy", "average_accuracy", "kappa")
#: Span of the progress bar (fractions) taken by each phase of ``train_classifier``.
PHASES = {"bands": (0.0, 0.04), "pca": (0.04, 0.10), "reduce": (0.10, 0.20), "train": (0.20, 0.95),
          "test": (0.95, 1.0)}

#: ``runner(function, *arguments)``: runs the baselines' ``function(*arguments)`` somewhere, giving
#: its result, or None to go without it.
BaselineRunner = Callable[..., Optional[dict]]


def software_versions() -> dict[str, str]:
    return {"python": platform.python_version(), "numpy": np.__version__, "scikit-learn": sklearn.__version__,
            "keras": keras.__version__, "keras_backend": keras.backend.backend()}


def _phase(reporter, name, part=(0, 1)):
    """``reporter`` over the phase ``name``, or over its ``part`` = (i, n): the i-th of n equal parts."""
    low, high = PHASES[name]
    i, n = part
    return reporter.part(low + (high - low) * i / n, low + (high - low) * (i + 1) / n)


def _fit_reducer(scene, kept, settings, reporter):
    reducer = SpectralReducer(kept, scene.nodata, settings.components, scale=settings.training.component_scale,
                              standardise_bands=settings.training.standardise_bands)
    if reducer.standardise_bands:
        reducer.fit_band_statistics((block.data for block in scene.read(_phase(reporter, "bands"))),
                                    settings.pca_sample_step)
    reducer.fit_blocks((block.data for block in scene.read(_phase(reporter, "pca"))), settings.pca_sample_step)
    reporter.log(f"PCA: {len(kept)} bands -> {settings.components} components, "
                 f"{100 * reducer.explained_variance_ratio_.sum():.2f}% of the variance, "
                 f"{reducer.n_fit_pixels_} pixels")
    return reducer


def _reduce(scene, kept, settings, cotraining, spill_path, reporter, timings):
    """The fitted reducer, the reduced cube and its validity mask, and the raw spectra the SVM baseline
    needs (None where it is off), of the labelled pixels and, for co-training, of the pool's: they are
    gathered during the reduction's pass, so the baseline costs no read of the scene."""
    start = time.perf_counter()
    reducer = _fit_reducer(scene, kept, settings, reporter)
    timings["pca_seconds"], start = time.perf_counter() - start, time.perf_counter()
    seed, size = settings.training.seed, (scene.height, scene.width)
    spectra = PixelSpectra(np.asarray(scene.labels) != 0, kept, seed=seed) if settings.baseline else None
    pool_spectra = PixelSpectra(pool_mask(size, seed), kept, limit=scene.height * scene.width) \
        if cotraining and spectra else None
    blocks = scene.read(_phase(reporter, "reduce"))
    for gatherer in (spectra, pool_spectra):
        blocks = gatherer.gathering(blocks) if gatherer else blocks
    cube, valid = reduce_scene(reducer, blocks, *size, spill_path)
    timings["reduce_seconds"] = time.perf_counter() - start
    return reducer, cube, valid, spectra, pool_spectra


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


def _softmax(model, cube, rows, cols, config):
    """The network's class probabilities for the pixels (rows, cols), on tiles where that is cheaper."""
    if tiling_gain(rows, cols, config.window, cube.shape[2]) > 1:
        return predict_on_tiles(tile_trainer(model), TileDataset(cube, rows, cols, None, config.window, SCORING_BATCH,
                                                                 padding=config.padding))
    return predict(model, PatchDataset(cube, rows, cols, None, config.window, SCORING_BATCH, config.padding))


def _split(rows, cols, labels, settings, mosaic, groups):
    """The split of the labelled pixels, each class drawn over every raster of a mosaic at once
    (core.splits.make_split says how), and on a held-out split with the validation pixels no test
    patch reaches moved into training when the recipe says so."""
    config = settings.training
    if mosaic is not None and len(mosaic.sizes) > 1 and config.padding != "zero":
        raise InputError(f"padding '{config.padding}' needs a single raster: several rasters are trained with "
                         f"zero padding at their edges")
    split = make_split(rows, cols, labels, settings.split, settings.split_value, config.seed, config.window,
                       None if groups is None else np.asarray(groups)[rows, cols])
    if config.validation_into_training and split.method in HELD_OUT_SPLITS:
        # In a random split nearly every validation pixel neighbours a test pixel: moving the few
        # others would add little and lose the validation curves.
        split = validation_into_training(split, rows, cols, config.window)
    return split


def _baselines(spectra, pool_spectra, valid, pixels, split, names, seed, runner, timings, fusion):
    """The SVM and forest baselines on the split's pixels (``pixels``: rows, cols, labels) as
    core.baseline.pixel_baselines gives them, {} where they are switched off or could not run; the
    pool co-training learns from: rows, cols and the SVM's class ids of its pixels (None: no pool was
    gathered, or no SVM); and with ``fusion`` the forest and the SVM kept for it: ((PixelForest,
    PixelSVM), indices of the test pixels they scored, (their class probabilities of them)), or None."""
    if spectra is None:
        return {}, None, None
    rows, cols, labels = pixels
    pool = _pool(pool_spectra, valid, rows, cols, split)
    baselines = runner(pixel_baselines, spectra, rows, cols, labels, split, names, seed, pool[2] if pool else None,
                       fusion)
    if baselines is None:
        return {}, None, None
    timings["baseline_seconds"], timings["forest_seconds"] = (baselines[k]["seconds"] for k in ("svm", "forest"))
    svm_classes = baselines["svm"].pop("pool_classes", None)
    forest, svm = baselines["forest"], baselines["svm"]
    kept = ((forest.pop("pixel_forest"), svm.pop("pixel_svm")), forest.pop("test"),
            (forest.pop("test_probabilities"), svm.pop("test_probabilities"))) if fusion else None
    return baselines, None if svm_classes is None else (*pool[:2], svm_classes), kept


def _fused(network, split, kept):
    """The test pixels the kept forest and SVM scored (indices into the labelled pixels) and the fusion
    (core.forest.fused_probabilities) of the network's class probabilities of them (``network``: of
    every test pixel, in the order of ``split.test``) with theirs (``kept``: see ``_baselines``)."""
    _, test, probabilities = kept
    order = np.full(int(split.test.max()) + 1, -1)
    order[split.test] = np.arange(len(split.test))
    return test, fused_probabilities(network[order[test]], *probabilities)


def _smoothed(scene, kept, cube, valid, model, config, pixels, split, scored, kept_models, reporter):
    """The map smoothed (core.smoothing) over the radius the training pixels' labels agree over: its
    class probabilities of the ``scored`` test pixels (indices into the labelled pixels, and the map's
    probabilities of them before smoothing), the record of the smoothing and the radius (0: not
    smoothed, the probabilities as they were). The test pixels' neighbours are classified as the map
    classifies them: by the network and, where the map is fused, by the forest and the SVM from their
    raw spectra read once more."""
    rows, cols, labels = pixels
    test, unsmoothed = scored
    radius, agreement, pairs = chosen_radius(rows[split.train], cols[split.train], labels[split.train], valid.shape)
    record = {"method": SMOOTHING_METHOD, "radius": radius, "agreement": agreement, "pairs": pairs}
    if not radius:
        reporter.log("The map is not smoothed: " + (
            f"a training pixel's labelled next neighbours share its class {100 * agreement:.0f}% of the time (the "
            f"mean over the classes), where smoothing needs {100 * AGREEMENT:.0f}%" if pairs >= MIN_PAIRS else
            f"only {pairs} pairs of training pixels are next neighbours (points?), where smoothing needs "
            f"{MIN_PAIRS} to tell whether the classes come in areas"))
        return unsmoothed, record, 0
    near_rows, near_cols = neighbourhood(rows[test], cols[test], valid, radius)
    probabilities = _softmax(model, cube, near_rows, near_cols, config)
    if kept_models is not None:
        mask = np.zeros(valid.shape, dtype=bool)
        mask[near_rows, near_cols] = True
        spectra = PixelSpectra(mask, kept, limit=len(near_rows))
        for _ in spectra.gathering(scene.read(_phase(reporter, "test"))):
            pass
        probabilities = fused_probabilities(probabilities, *(pixel_model.probabilities(spectra.spectra)
                                                             for pixel_model in kept_models[0]))
    width = valid.shape[1]
    targets = np.searchsorted(near_rows * width + near_cols, rows[test] * width + cols[test])
    record["n_test"] = len(test)
    return smoothed_at(near_rows, near_cols, probabilities, targets, valid.shape, radius), record, radius


def _the_map(scene, kept, cube, valid, model, config, pixels, split, class_ids, names, network, kept_models,
             steps, reporter):
    """The test figures of the map as Classify makes it: the network's class probabilities of the test
    pixels (``network``: them and their figures), fused with the kept forest's and SVM's, smoothed and weighted as
    ``steps`` (fusion, smoothing, balance: each on or off) say; with the records of the three steps (None
    where a step was off), each keeping the figures before it, the smoothing radius and the class
    weights (None: not weighted)."""
    rows, cols, labels = pixels
    fusion, smoothing, balancing = steps
    probabilities, accuracy = network
    scored = split.test

    def figures():
        return accuracy_report(labels[scored], class_ids[np.argmax(probabilities, axis=-1)], class_ids, names)

    def summary(figures):
        return {key: figures[key] for key in SUMMARY}

    fused = smoothed = balance = weights = None
    radius = 0
    if kept_models is not None:
        scored, probabilities = _fused(probabilities, split, kept_models)
        forest, svm = kept_models[0]
        fused, accuracy = {"method": FUSION_METHOD, "trees": forest.n_trees,
                           "support_vectors": svm.n_support_vectors, "n_test": len(scored),
                           "network_accuracy": summary(accuracy)}, figures()
        reporter.log(f"Fused with the random forest and the SVM ({FUSION_METHOD}): test OA "
                     f"{100 * accuracy['overall_accuracy']:.2f}%, the network alone "
                     f"{100 * fused['network_accuracy']['overall_accuracy']:.2f}%")
    elif fusion:
        reporter.log("No fusion with the random forest and the SVM: it needs the baselines, which are switched off or did "
                     "not run; the map is the network's alone")
    if smoothing:
        probabilities, smoothed, radius = _smoothed(scene, kept, cube, valid, model, config, pixels, split,
                                                    (scored, probabilities), kept_models, reporter)
        if radius:
            smoothed["unsmoothed_accuracy"], accuracy = summary(accuracy), figures()
            reporter.log(f"Smoothed over {radius} pixels (a training pixel's labelled neighbours within it share "
                         f"its class {100 * smoothed['agreement']:.0f}% of the time, the mean over the classes): "
                         f"test OA {100 * accuracy['overall_accuracy']:.2f}%, "
                         f"{100 * smoothed['unsmoothed_accuracy']['overall_accuracy']:.2f}% unsmoothed")
    if balancing:
        counts = np.bincount(np.searchsorted(class_ids, labels[split.train]), minlength=len(class_ids))
        weights = class_weights(counts, np.isin(class_ids, list(split.not_tested)))
        probabilities = balanced(probabilities, weights)
        balance = {"method": BALANCE_METHOD, "exponent": EXPONENT, "weights": [float(w) for w in weights],
                   "train_counts": [int(n) for n in counts], "n_test": len(scored),
                   "unweighted_accuracy": summary(accuracy)}
        accuracy = figures()
        reporter.log(f"Classes weighted against their training shares (weights {weights.min():.2f} for the most "
                     f"trained class to {weights.max():.2f}): test OA {100 * accuracy['overall_accuracy']:.2f}%, "
                     f"AA {100 * accuracy['average_accuracy']:.2f}%; unweighted "
                     f"{100 * balance['unweighted_accuracy']['overall_accuracy']:.2f}% and "
                     f"{100 * balance['unweighted_accuracy']['average_accuracy']:.2f}%")
    return accuracy, fused, smoothed, balance, radius, weights


def _pool(pool_spectra, valid, rows, cols, split):
    """rows, cols and spectra of the pool's valid pixels that are not training pixels."""
    if pool_spectra is None:
        return None
    height, width = valid.shape
    usable = valid.ravel()[pool_spectra.positions]
    usable[np.isin(pool_spectra.positions, rows[split.train] * width + cols[split.train])] = False
    pool_rows, pool_cols = np.divmod(pool_spectra.positions[usable], width)
    return pool_rows, pool_cols, pool_spectra.spectra[usable]


def _cotrain(reporter, cube, pixels, split, class_ids, config, first, pool, svm_classes, score, timings, checkpoints):
    """The network trained again, ROUNDS times from new weights for round_epochs, on the training pixels
    plus the pool's pixels where the last network and the SVM agree (core.cotraining); and per round the
    pseudo-labels and the test figures ``score(model)`` gives; with the last network's whole figures."""
    rows, cols, targets = pixels
    pool_rows, pool_cols = pool
    train_counts = np.bincount(targets[split.train], minlength=len(class_ids))
    epochs = round_epochs(config.epochs)
    result, rounds, first_accuracy = first, [], score(first.model)
    timings["first_train_seconds"], timings["pool_seconds"] = first.seconds, 0.0
    for round_ in range(1, ROUNDS + 1):
        start = time.perf_counter()
        softmax = _softmax(result.model, cube, pool_rows, pool_cols, config)
        chosen, classes = pseudo_labels(np.argmax(softmax, axis=-1), svm_classes, softmax.max(axis=-1), train_counts)
        timings["pool_seconds"] += time.perf_counter() - start
        reporter.log(f"Co-training, round {round_} of {ROUNDS}: the network and the SVM agree, and the network is "
                     f"sure, on {len(chosen):,} of {len(pool_rows):,} pixels of the scene outside training; "
                     f"training again with them as labels")
        extended = replace(split, train=np.concatenate([split.train, len(rows) + np.arange(len(chosen))]))
        result = train_network(cube, np.concatenate([rows, pool_rows[chosen]]),
                               np.concatenate([cols, pool_cols[chosen]]), np.concatenate([targets, classes]), extended,
                               len(class_ids), replace(config, seed=config.seed + RESEED * round_, epochs=epochs),
                               _phase(reporter, "train", (round_, ROUNDS + 1)), checkpoints)
        figures = score(result.model)
        reporter.log(f"Training {result.stop_reason} ({result.seconds:.1f} s): test OA "
                     f"{100 * figures['overall_accuracy']:.2f}%")
        rounds.append({"n_pseudo_labels": len(chosen), "epochs": epochs,
                       **{key: figures[key] for key in SUMMARY},
                       "pseudo_labels_per_class": {int(c): int(n) for c, n in
                                                   zip(class_ids, np.bincount(classes, minlength=len(class_ids)))}})
    return result, {"n_pool": len(pool_rows), "first_accuracy": first_accuracy, "rounds": rounds}, figures


def _train_and_score(cube, pixels, class_ids, split, names, config, baselines, reporter, timings, checkpoints):
    """The network trained on the split's pixels (``pixels``: rows, cols, labels), then co-trained
    where ``baselines`` (None: no co-training), the running ``_baselines``, give a pool (rows, cols,
    the SVM's class ids); with its figures on the test pixels, what co-training did (None: none) and its
    class probabilities of the test pixels (in the order of ``split.test``). Each training keeps its state
    in ``checkpoints`` (None: nowhere)."""
    rows, cols, labels = pixels
    targets = np.searchsorted(class_ids, labels)
    test_rows, test_cols = rows[split.test], cols[split.test]

    scored = {}

    def score(model):
        """``model``'s figures on the test pixels; the time its prediction took is the record's, and its
        class probabilities are kept (the last model scored is the one returned)."""
        start = time.perf_counter()
        scored["softmax"] = _softmax(model, cube, test_rows, test_cols, config)
        timings["test_seconds"] = time.perf_counter() - start
        return accuracy_report(labels[split.test], class_ids[np.argmax(scored["softmax"], axis=-1)], class_ids,
                               names)

    result = train_network(cube, rows, cols, targets, split, len(class_ids), config,
                           _phase(reporter, "train", (0, 1 if baselines is None else ROUNDS + 1)), checkpoints)
    reporter.log(f"Training {result.stop_reason} ({result.seconds:.1f} s)")
    pool = None if baselines is None else baselines.result()[1]
    if baselines is not None and pool is None:
        reporter.log("No co-training: it trains on pixels where the network and the SVM baseline agree, and the "
                     "baseline is switched off or did not run")
    if pool is None:
        accuracy, cotrained = score(result.model), None
    else:
        result, cotrained, accuracy = _cotrain(reporter, cube, (rows, cols, targets), split, class_ids, config, result,
                                               pool[:2], np.searchsorted(class_ids, pool[2]), score, timings,
                                               checkpoints)
    timings.update(train_seconds=result.seconds, train_patches_per_second=result.patches_per_second)
    return result, accuracy, cotrained, scored["softmax"]


def _split_record(split):
    return {"method": split.method, "value": split.value, "n_train": len(split.train), "n_val": len(split.val),
            "n_test": len(split.test), "not_tested": list(split.not_tested), "description": split.describe()}


def _model_record(kept, reducer, result):
    """What training found, for the record."""
    return {"kept_bands": format_band_ranges(kept),
            "explained_variance_ratio": float(reducer.explained_variance_ratio_.sum()),
            "parameters": int(result.model.count_params()), "training_layout": result.layout,
            "tiling_gain": round(result.tiling_gain, 2), "training_dtype": result.dtype}


def _in_process(function, *arguments):
    """The SVM baseline run here, in this process: what scripts and tests need."""
    return function(*arguments)


def train_classifier(scene: Scene, settings: TrainingSettings | None = None, reporter: Reporter = SILENT, *,
                     spill_path: str | None = None,
                     baseline_runner: BaselineRunner = _in_process,
                     checkpoints: Checkpoints | None = None) -> Fast3DCNNClassifier:
    """Trains a classifier on ``scene``. With ``spill_path`` the reduced cube is a memory-mapped file
    there, for scenes whose cube does not fit in memory. ``baseline_runner`` runs the SVM and forest
    baselines, on a worker thread while the network trains: the plugin runs them in a child process.
    With ``checkpoints`` every training saves its state there every few epochs and resumes the state
    an interrupted run of the same command left (core.checkpoints).

    Returns the classifier, whose ``record`` holds the test-set accuracy, the split, the history and
    timings. Raises ``InputError`` for settings or ground truth that cannot work, ``Cancelled`` once
    ``reporter`` asks to stop.
    """
    settings = settings or TrainingSettings()
    config = settings.training
    settings.check((scene.width, scene.height))
    timings: dict[str, float] = {}
    kept = kept_bands(scene.band_count, settings.exclude_bands)
    cotraining = applies(config.cotraining, settings.split)
    fusion = applies(config.fusion, settings.split)
    smoothing = applies(config.smoothing, settings.split)
    balancing = applies(config.balance, settings.split)
    reducer, cube, valid, spectra, pool_spectra = _reduce(scene, kept, settings, cotraining, spill_path, reporter,
                                                          timings)
    rows, cols, labels, class_ids, n_invalid = _labelled(scene.labels, valid, reporter.log)
    split = _split(rows, cols, labels, settings, scene.mosaic, scene.groups)
    reporter.log(f"Split {split.describe()}")
    if split.not_tested:
        reporter.warn(not_tested_message(split.not_tested, scene.classes.names))
    table = scene.classes.subset(class_ids).completed()
    names = {c.id: c.label for c in table}
    # The baselines are fitted while the network trains (Indian Pines' paper split: the whole qgis_process
    # call 35.2 -> 32.9 s on 2 cores); co-training waits for them after the first training.
    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="baselines")
    try:
        running: Future = worker.submit(_baselines, spectra, pool_spectra, valid, (rows, cols, labels), split, names,
                                        config.seed, baseline_runner, timings, fusion and settings.baseline)
        result, accuracy, cotrained, test_softmax = _train_and_score(
            cube, (rows, cols, labels), class_ids, split, names, config, running if cotraining else None, reporter,
            timings, checkpoints and checkpoints.bind(cube))
        baselines, _, kept_models = running.result()
    finally:
        worker.shutdown(wait=False, cancel_futures=True)
    accuracy, fused, smoothed, balance, radius, weights = _the_map(
        scene, kept, cube, valid, result.model, config, (rows, cols, labels), split, class_ids, names,
        (test_softmax, accuracy), kept_models, (fusion, smoothing, balancing), reporter)
    for baseline in baselines.values():
        reporter.log(verdict(accuracy, baseline, fused_model_name(fused)))
    reporter.progress(1.0)
    record = RunRecord(accuracy=accuracy, classes=table, versions=software_versions(), settings=settings.as_dict(),
                       model=_model_record(kept, reducer, result), split=_split_record(split), history=result.history,
                       best_epoch=result.best_epoch, stop_reason=result.stop_reason, baseline=baselines.get("svm"),
                       forest=baselines.get("forest"), cotraining=cotrained, fusion=fused, smoothing=smoothed,
                       balance=balance, timings=timings,
                       n_labelled_invalid_excluded=n_invalid)
    return Fast3DCNNClassifier(reducer=reducer, network=result.model, window=config.window, classes=table,
                               input_band_count=scene.band_count, padding=config.padding, record=record,
                               forest=kept_models[0][0] if kept_models else None,
                               svm=kept_models[0][1] if kept_models else None, smoothing_radius=radius,
                               class_weights=weights)
