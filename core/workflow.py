"""The paper's whole training recipe over a scene given as blocks: the one entry point the plugin,
the benchmarks and the tests share.

Steps: fit the reduction on a streamed pixel sample, reduce the scene into an (H, W, B) cube (in
memory, or a temporary memory-mapped file for large scenes), split the labelled pixels, train,
and score the held-out test pixels.
"""
import platform
import time
from dataclasses import dataclass, field

import keras
import numpy as np
import sklearn

from .classifier import Fast3DCNNClassifier
from .metrics import accuracy_report
from .network import build_fast3dcnn, min_band_count
from .patches import PatchDataset, check_window
from .reduction import SpectralReducer
from .splits import labelled_pixels, make_split
from .training import TrainingConfig, train_network

#: Share of the progress bar taken by each phase of ``train_classifier``.
PHASES = {"pca": (0, 10), "reduce": (10, 20), "train": (20, 95), "test": (95, 100)}


class Cancelled(Exception):
    """The user cancelled; nothing was produced."""


@dataclass
class TrainingSettings:
    components: int = 20
    exclude_bands: str = ""
    split: str = "paper"
    split_value: float = None
    pca_sample_step: int = 1
    training: TrainingConfig = field(default_factory=TrainingConfig)


def software_versions():
    return {"python": platform.python_version(), "numpy": np.__version__, "scikit-learn": sklearn.__version__,
            "keras": keras.__version__, "keras_backend": keras.backend.backend()}


def reduce_scene(reducer, blocks, height, width, spill_path=None, should_cancel=None):
    """The (H, W, B) float32 cube of standardised scores, zero at invalid pixels, and the validity mask.

    With ``spill_path`` the cube is a memory-mapped file there, for scenes whose cube does not fit
    in memory.
    """
    shape = (height, width, reducer.n_components)
    if spill_path:
        cube = np.lib.format.open_memmap(spill_path, mode="w+", dtype=np.float32, shape=shape)
    else:
        cube = np.empty(shape, dtype=np.float32)
    valid = np.zeros((height, width), dtype=bool)
    for block in blocks:
        if should_cancel is not None and should_cancel():
            raise Cancelled()
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


def _phase(progress, name):
    """A callable mapping a fraction of one phase to the overall percentage."""
    low, high = PHASES[name]
    return (lambda fraction: progress(low + (high - low) * min(max(fraction, 0.0), 1.0))) if progress else None


def check_settings(settings, band_count, height, width):
    """Raises ValueError for settings that cannot work on this scene, before any work is done."""
    window = settings.training.window
    check_window(window)
    if window > min(height, width):
        raise ValueError(f"window size {window} is larger than the raster ({width} x {height} pixels): "
                         f"choose an odd window no larger than the raster's smaller side")
    if settings.components <= min_band_count():
        raise ValueError(f"{settings.components} components are too few for the network's spectral "
                         f"convolutions: use at least {min_band_count() + 1} (the paper uses 20)")


def train_classifier(blocks, height, width, band_count, label_grid, settings=None, class_names=None,
                     class_colors=None, nodata=None, spill_path=None, progress=None, should_cancel=None,
                     log=None):
    """Trains a classifier on a scene. ``blocks`` is a callable returning a fresh iterator of raw
    blocks (no halo needed) over the scene, each time it is called (the scene is read twice).

    ``label_grid`` is (H, W) of user class ids, 0 = unlabelled. Returns the classifier, whose
    ``metadata['report']`` holds the test-set accuracy, the split, the history and timings.
    """
    from .bands import kept_bands, format_band_ranges

    settings = settings or TrainingSettings()
    config = settings.training
    check_settings(settings, band_count, height, width)
    log = log or (lambda message: None)
    cancel = should_cancel or (lambda: False)
    timings = {}

    kept = kept_bands(band_count, settings.exclude_bands)
    reducer = SpectralReducer(kept, nodata, settings.components)
    start = time.perf_counter()
    pca_blocks = _tracked(blocks(), _phase(progress, "pca"), height, width)
    reducer.fit_blocks((block.data for block in pca_blocks), settings.pca_sample_step, should_cancel=cancel)
    if cancel():
        raise Cancelled()
    timings["pca_seconds"] = time.perf_counter() - start
    log(f"PCA: {len(kept)} bands -> {settings.components} components, "
        f"{100 * reducer.explained_variance_ratio_.sum():.2f}% of the variance, {reducer.n_fit_pixels_} pixels")

    start = time.perf_counter()
    cube, valid = reduce_scene(reducer, _tracked(blocks(), _phase(progress, "reduce"), height, width),
                               height, width, spill_path, cancel)
    timings["reduce_seconds"] = time.perf_counter() - start

    label_grid = np.asarray(label_grid)
    n_invalid_labelled = int(((label_grid != 0) & ~valid).sum())
    rows, cols, labels = labelled_pixels(np.where(valid, label_grid, 0))
    class_ids = np.unique(labels)
    if len(class_ids) < 2:
        raise ValueError(f"the ground truth has {len(class_ids)} labelled class on valid pixels of the raster: "
                         f"a classifier needs at least two classes")
    if n_invalid_labelled:
        log(f"{n_invalid_labelled} labelled pixels are nodata or non-finite in the raster and were left out")
    targets = np.searchsorted(class_ids, labels)
    split = make_split(rows, cols, labels, settings.split, settings.split_value, config.seed, config.window,
                       class_names)
    log(f"Split {split.describe()}")

    train_progress = _phase(progress, "train")

    def on_batch(epoch, batch, batches):
        if train_progress:
            train_progress((epoch + batch / batches) / config.epochs)

    result = train_network(cube, rows, cols, targets, split, len(class_ids), config, on_batch, cancel)
    timings["train_seconds"] = result.seconds
    timings["train_patches_per_second"] = result.patches_per_second

    start = time.perf_counter()
    test = PatchDataset(cube, rows[split.test], cols[split.test], None, config.window, 1024, config.padding)
    predicted = class_ids[np.argmax(result.model.predict(test, verbose=0), axis=-1)]
    timings["test_seconds"] = time.perf_counter() - start
    if progress:
        progress(100)
    names = {int(c): (class_names or {}).get(int(c), f"class {int(c)}") for c in class_ids}
    report = accuracy_report(labels[split.test], predicted, class_ids, names)
    report.update({
        "split": {"method": split.method, "value": split.value, "n_train": len(split.train),
                  "n_val": len(split.val), "n_test": len(split.test), "description": split.describe()},
        "history": result.history, "best_epoch": result.best_epoch, "timings": timings,
        "n_labelled_invalid_excluded": n_invalid_labelled,
    })
    metadata = {
        "training": config.as_dict(),
        "components": settings.components,
        "excluded_bands": settings.exclude_bands or "",
        "kept_bands": format_band_ranges(kept),
        "explained_variance_ratio": float(reducer.explained_variance_ratio_.sum()),
        "split": report["split"],
        "report": report,
        "versions": software_versions(),
        "parameters": int(result.model.count_params()),
    }
    return Fast3DCNNClassifier(
        reducer=reducer, network=result.model, window=config.window, class_ids=class_ids,
        input_band_count=band_count, padding=config.padding, class_names=names,
        class_colors={int(c): v for c, v in (class_colors or {}).items() if int(c) in names},
        metadata=metadata)
