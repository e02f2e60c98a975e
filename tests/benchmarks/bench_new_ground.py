"""New ground by default: the plugin's default model against an RBF SVM and a random forest trained on the
same pixels, and the network alone and fused with them, on ground the training never saw.

    python tests/benchmarks/bench_new_ground.py --data ../shared/data --out bench-out/new_ground.jsonl
    python tests/benchmarks/bench_new_ground.py --data ../shared/data --cases potsdam_tiles --seeds 0 --epochs 2 \\
        --out /tmp/smoke.jsonl    # a smoke test only: two epochs say nothing of accuracy

Every run goes through the plugin's own path, core.workflow.train_classifier, with TrainingSettings()
and TrainingConfig() as they come (the default recipe, split and co-training) but for the window (11)
and the seed. The SVM and the forest are the workflow's baselines (core.baseline: the same stratified
training sample; the SVM's C and gamma chosen by the workflow). core.baseline keeps no fitted model, so
both are fitted again here on that sample: the forest with the same seed, which gives the same forest,
and the SVM with the workflow's C and gamma, once as it is and once calibrated for probabilities
(scikit-learn's CalibratedClassifierCV: Platt scaling on 5 folds). On cases 1-4 the run stops if their
test figures differ from the workflow's. ``default`` is the model the plugin makes: on the held-out
splits the network fused with the forest and the calibrated SVM it keeps (core.forest, core.pixel_svm) and
smoothed over the radius its training labels agree over (core.smoothing; radius 0 where they do not), its classes weighted against
their training shares (core.class_balance), on the paper split the network alone. ``cnn`` is the network
alone (its map made without the model's forest and SVM, unsmoothed and unweighted), and the fusions are unsmoothed
and unweighted too, so the default's gain over ``fusion`` is the smoothing's and the weighting's. The fusion is the argmax of the
geometric mean (core.forest.fused_probabilities) of the network's softmax (from its map,
core.prediction.predict_blocks) and the refitted forest's class probabilities; "fusion+SVM" adds the
calibrated SVM's probabilities to the geometric mean (what the default model does where it fuses, before
smoothing and weighting, but for the calibration's folds), and "CNN+SVM" fuses the network's with the
calibrated SVM's alone.

Cases (``--cases``):

- ``indian_pines_fields``: Indian Pines, each class's patches of the label raster as fields
  (core.splits.fields, as the plugin makes of polygons), split ``grouped``: whole fields held out per
  class, as an external split of fixed training and test fields would.
- ``indian_pines_disjoint``: Indian Pines, the default split (auto: disjoint, no fields); seeds 0-5.
- ``salinas_a_disjoint``: Salinas-A less the paper's water bands (scenes.py), the default split.
- ``indian_pines_paper``: the paper's random split (co-training then off by default): the flattering
  figure, for comparison.
- ``potsdam_tiles``: EnMAP Potsdam: the 16 tiles of train_files.csv and validation_files.csv trained as
  several rasters on one canvas (core.mosaic, the default split inside them), the bands that hold only
  nodata excluded as the plugin does; then all 18 tiles classified at their true places on the
  330 x 200 scene grid (their geotransforms), so patches at a tile's edge see the neighbouring tiles,
  and the map scored on the labels of the 2 tiles of test_files.csv only. The ``split_*`` figures are
  the workflow's own, on the pixels it held out inside the training tiles.
- ``potsdam_tiles_to_map``: the same, with the 2 test tiles also on the training canvas, without their
  labels: the rasters to map given to MORE_INPUTS, so that the PCA and co-training's pool cover them.

Cases 1-4 score the workflow's own test pixels: the default's, SVM and forest figures are the record's,
the network's and the fusions' are on the same pixels (the workflow's split made again with core.splits,
checked against the record's counts).
``n_train``, ``n_val``, ``n_test`` and ``split`` are always the workflow's split; case 5 scores
``n_map_test`` pixels.

Runs are appended to --out as JSON lines as they finish, and a rerun skips the (case, seed, epochs)
already there; the table (mean ± std over seeds per case) is printed at the end. ``--epochs`` overrides
the recipe's epochs for smoke tests only. Not a test: one run takes minutes on a CPU, so nothing here
is timed against a limit or asserted beyond the checks above.
"""
import argparse
import collections
import csv
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, NamedTuple

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from fast3dcnn_qgis.core.bands import format_band_ranges, kept_bands, valid_mask  # noqa: E402
from fast3dcnn_qgis.core.baseline import FOREST_TREES, BaselinePixels, PixelSpectra  # noqa: E402
from fast3dcnn_qgis.core.blocks import array_blocks  # noqa: E402
from fast3dcnn_qgis.core.forest import fused_probabilities  # noqa: E402
from fast3dcnn_qgis.core.metrics import accuracy_report  # noqa: E402
from fast3dcnn_qgis.core.mosaic import Mosaic  # noqa: E402
from fast3dcnn_qgis.core.prediction import predict_blocks  # noqa: E402
from fast3dcnn_qgis.core.progress import CallbackReporter  # noqa: E402
from fast3dcnn_qgis.core.record import json_ready  # noqa: E402
from fast3dcnn_qgis.core.scene import Scene  # noqa: E402
from fast3dcnn_qgis.core.settings import HELD_OUT_SPLITS, TrainingConfig, TrainingSettings  # noqa: E402
from fast3dcnn_qgis.core.splits import fields, labelled_pixels, make_split, validation_into_training  # noqa: E402
from fast3dcnn_qgis.core.workflow import train_classifier  # noqa: E402
from fast3dcnn_qgis.gdal_io.reading import empty_bands, open_raster  # noqa: E402
from scenes import SCENES  # noqa: E402

WINDOW = 11
POTSDAM = "enmapbox_potsdam_specdeepmap"
#: The methods scored, as the JSON keys and the table name them.
METHODS = {"default": "default", "cnn": "CNN", "svm": "SVM", "forest": "forest", "fusion": "fusion",
           "fusion_svm": "fusion+SVM", "cnn_svm": "CNN+SVM"}


@dataclass(frozen=True)
class Ground:
    """What a case trains on: the workflow's Scene, its raw pixels on the scene's grid (H, W, bands; nodata
    in the blank rows of a mosaic) and the bands it leaves out."""
    scene: Scene
    cube: np.ndarray
    exclude_bands: str = ""


@dataclass(frozen=True)
class TileMap:
    """The Potsdam case: the training tiles on one canvas, and every tile at its place on the scene grid."""
    ground: Ground            # the training tiles, stacked (core.mosaic)
    canvas: np.ndarray        # (H, W, bands) raw scene grid: each tile at its place, nodata elsewhere
    origins: frozenset        # (row, col) of each tile's first pixel on the canvas
    tile: int                 # the tiles' side
    test_labels: np.ndarray   # (H, W) the test tiles' labels, 0 elsewhere

    @property
    def exclude_bands(self) -> str:
        return self.ground.exclude_bands


@dataclass(frozen=True)
class Case:
    load: Callable[[str], Any]          # the data folder -> a Ground or a TileMap
    measure: Callable[[Any, TrainingSettings], dict]
    settings: dict = field(default_factory=dict)  # TrainingSettings fields beyond the defaults
    seeds: tuple[int, ...] = (0, 1, 2)


# -- the scenes -------------------------------------------------------------------------------------

def benchmark_ground(name, with_fields=False):
    """A loader of the benchmark scene ``name`` (scenes.py), its fields as groups if asked."""
    def load(data):
        cube, labels = SCENES[name].load(data)
        scene = Scene(lambda: array_blocks(cube, 64), *cube.shape, labels,
                      groups=fields(labels) if with_fields else None)
        return Ground(scene, cube, SCENES[name].exclude_bands)
    return load


def tile_files(folder, *csv_names):
    """(image, label) paths of the tiles the csv files list."""
    pairs = []
    for name in csv_names:
        with open(os.path.join(folder, name)) as stream:
            pairs += [(os.path.join(folder, row["image"]), os.path.join(folder, row["mask"]))
                      for row in csv.DictReader(stream)]
    return pairs


class Tile(NamedTuple):
    """One Potsdam tile as read."""
    cube: np.ndarray    # (rows, cols, bands) raw
    labels: np.ndarray  # (rows, cols) class ids, 0 = unlabelled
    place: tuple        # (row, col) of its first pixel on the scene grid
    empty: list         # 0-based bands that hold only nodata
    nodata: float


def read_tile(image, label, grid):
    """The Tile of ``image`` and ``label``, placed on the scene grid of the dataset ``grid`` by geotransform."""
    dataset, origin = open_raster(image), grid.GetGeoTransform()
    x, _, _, y, _, _ = dataset.GetGeoTransform()
    return Tile(np.moveaxis(dataset.ReadAsArray(), 0, -1), open_raster(label).ReadAsArray().astype(np.int32),
                (round((y - origin[3]) / origin[5]), round((x - origin[0]) / origin[1])), empty_bands(dataset),
                dataset.GetRasterBand(1).GetNoDataValue())


def placed(shape, pieces, fill):
    """An array of ``shape`` holding each (array, (row, col)) of ``pieces`` at its place, ``fill`` elsewhere."""
    out = np.full(shape, fill, dtype=pieces[0][0].dtype)
    for array, (row, col) in pieces:
        out[row:row + array.shape[0], col:col + array.shape[1]] = array
    return out


def potsdam_tiles(data, tiles_to_map=False):
    """The training (train + validation csv) tiles stacked on one canvas, and all tiles on the scene grid;
    with ``tiles_to_map`` the test tiles join the canvas without their labels, as an analyst adds the
    rasters to map to MORE_INPUTS (the PCA and co-training's pool then cover them)."""
    folder = os.path.join(data, POTSDAM)
    grid = open_raster(os.path.join(folder, "enmap_landcover_unstyled.tif"))
    training = [read_tile(*pair, grid) for pair in tile_files(folder, "train_files.csv", "validation_files.csv")]
    tests = [read_tile(*pair, grid) for pair in tile_files(folder, "test_files.csv")]
    if tiles_to_map:
        training += [tile._replace(labels=np.zeros_like(tile.labels)) for tile in tests]
    cubes, nodata = [t.cube for t in training], training[0].nodata
    mosaic = Mosaic.of([c.shape[:2] for c in cubes], WINDOW)
    scene = Scene(mosaic.blocks([lambda c=c: array_blocks(c, 64) for c in cubes]), mosaic.height, mosaic.width,
                  cubes[0].shape[2], mosaic.stack([t.labels for t in training]), nodata=nodata, mosaic=mosaic)
    excluded = format_band_ranges(sorted(set().union(*(t.empty for t in training))))
    size = (grid.RasterYSize, grid.RasterXSize)
    return TileMap(Ground(scene, mosaic.stack(cubes, fill=nodata), excluded),
                   placed(size + cubes[0].shape[2:], [(t.cube, t.place) for t in training + tests], nodata),
                   frozenset(t.place for t in training + tests), cubes[0].shape[0],
                   placed(size, [(t.labels, t.place) for t in tests], 0))


# -- one run ----------------------------------------------------------------------------------------

def trained(scene, settings):
    """The workflow's classifier of ``scene`` and the seconds it took."""
    start = time.perf_counter()
    classifier = train_classifier(scene, settings, CallbackReporter(log=lambda message: print("   ", message)))
    return classifier, time.perf_counter() - start


def workflow_pixels(ground, settings, record):
    """The workflow's labelled pixels, its split made again (the same core.splits calls, deterministic given
    the seed) and the baselines' BaselinePixels over them: (pixels, rows, cols)."""
    scene, config = ground.scene, settings.training
    kept = kept_bands(scene.band_count, settings.exclude_bands)
    rows, cols, labels = labelled_pixels(np.where(valid_mask(ground.cube[..., kept], scene.nodata), scene.labels, 0))
    groups = None if scene.groups is None else np.asarray(scene.groups)[rows, cols]
    split = make_split(rows, cols, labels, settings.split, settings.split_value, config.seed, config.window, groups)
    if config.validation_into_training and split.method in HELD_OUT_SPLITS:
        split = validation_into_training(split, rows, cols, config.window)
    counts = {"n_train": len(split.train), "n_val": len(split.val), "n_test": len(split.test)}
    if any(counts[key] != record.split[key] for key in counts):
        raise RuntimeError(f"the split made again ({counts}) is not the workflow's ({record.split}): "
                           f"make it as core.workflow._split does")
    spectra = PixelSpectra(np.asarray(scene.labels) != 0, kept, seed=config.seed)
    collections.deque(spectra.gathering(scene.blocks()), maxlen=0)
    return BaselinePixels(spectra, rows, cols, labels, split, config.seed), rows, cols


def baseline_models(pixels, record, seed):
    """The workflow's forest (core.baseline.forest_baseline's trees, sample and seed) and SVM (the C and gamma it
    chose, on the standardised sample), fitted again, and that SVM calibrated (Platt, 5-fold) for probabilities."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    x, y = pixels.of(pixels.fit), pixels.labels[pixels.fit]

    def standardised(model):
        return make_pipeline(StandardScaler(), model).fit(x, y)

    svm = SVC(C=record.baseline["C"], gamma=record.baseline["gamma"])
    return {"forest": RandomForestClassifier(n_estimators=FOREST_TREES, n_jobs=-1, random_state=seed).fit(x, y),
            "svm": standardised(svm), "svm_probabilities": standardised(CalibratedClassifierCV(svm, ensemble=False))}


def map_probabilities(classifier, blocks, shape):
    """(H, W, classes) softmax of the classifier's map over raw ``blocks`` (with halos), -1 where it is invalid
    or no block covers."""
    out = np.full(shape + (len(classifier.class_ids),), -1, dtype=np.float32)
    for prediction in predict_blocks(classifier, blocks):
        rows, cols = prediction.block.shape
        out[prediction.block.row:prediction.block.row + rows,
            prediction.block.col:prediction.block.col + cols] = prediction.probabilities
    return out


def in_class_order(probabilities, model_classes, class_ids):
    """(pixels, len(class_ids)) probabilities of a model that knows the classes ``model_classes``."""
    out = np.zeros((len(probabilities), len(class_ids)))
    out[:, np.searchsorted(class_ids, model_classes)] = probabilities
    return out


def figures_of(method, report):
    """The JSON figures of ``method`` in a core.metrics.accuracy_report."""
    return {f"{method}_oa": report["overall_accuracy"], f"{method}_aa": report["average_accuracy"],
            f"{method}_kappa": report["kappa"],
            f"{method}_recall": {str(c["id"]): c["recall"] for c in report["per_class"]}}


def scored(reference, network, spectra, models, class_ids):
    """Figures of the network (its softmax ``network``), the baselines (on the raw ``spectra``) and the
    fusions on the pixels whose labels are ``reference``."""
    forest, svm = (in_class_order(models[name].predict_proba(spectra), models[name].classes_, class_ids)
                   for name in ("forest", "svm_probabilities"))
    probabilities = {"cnn": network, "forest": forest, "fusion": fused_probabilities(network, forest),
                     "fusion_svm": fused_probabilities(network, forest, svm),
                     "cnn_svm": fused_probabilities(network, svm)}
    labels = {method: class_ids[np.argmax(p, axis=-1)] for method, p in probabilities.items()}
    labels["svm"] = models["svm"].predict(spectra)
    figures = {}
    for method in labels:
        figures.update(figures_of(method, accuracy_report(reference, labels[method], class_ids)))
    return figures


def run_summary(record, seconds):
    """What every run records of the workflow's run."""
    cotraining = record.cotraining
    return {"seconds": seconds, "epochs": record.settings["epochs"], "settings": record.settings,
            "split": record.split["description"], **{k: record.split[k] for k in ("n_train", "n_val", "n_test")},
            "not_tested": record.split["not_tested"], "svm_C": record.baseline["C"],
            "svm_gamma": record.baseline["gamma"], "best_epoch": record.best_epoch, "timings": record.timings,
            "first_oa": cotraining and cotraining["first_accuracy"]["overall_accuracy"],
            "smoothing_radius": record.smoothing and record.smoothing["radius"],
            "class_weights": record.balance and record.balance["weights"],
            "cotraining_rounds": cotraining and cotraining["rounds"]}


def measure_on_split(ground, settings):
    """Cases 1-4: the workflow's figures on its test pixels, and the fusions' on the same pixels."""
    classifier, seconds = trained(ground.scene, settings)
    record, class_ids = classifier.record, np.asarray(classifier.class_ids)
    pixels, rows, cols = workflow_pixels(ground, settings, record)
    test = pixels.test
    network = map_probabilities(replace(classifier, forest=None, svm=None, smoothing_radius=0, class_weights=None),
                                array_blocks(ground.cube, 64, halo=classifier.window // 2),
                                ground.cube.shape[:2])[rows[test], cols[test]]
    ours = scored(pixels.labels[test], network, pixels.of(test),
                  baseline_models(pixels, record, settings.training.seed), class_ids)
    workflow = {**figures_of("default", record.accuracy), **figures_of("svm", record.baseline["accuracy"]),
                **figures_of("forest", record.forest["accuracy"])}
    for key in ("svm_oa", "forest_oa"):
        if abs(ours[key] - workflow[key]) > 1e-9:
            raise RuntimeError(f"{key}: {ours[key]} refitted here, {workflow[key]} in the workflow")
    return {**run_summary(record, seconds), **ours, **workflow}


def tile_blocks(tiles, halo):
    """The canvas's blocks of the tiles, each with its halo of neighbouring tiles (or nodata)."""
    blocks = [block for block in array_blocks(tiles.canvas, tiles.tile, tiles.tile, halo)
              if (block.row, block.col) in tiles.origins]
    if len(blocks) != len(tiles.origins):
        raise RuntimeError("the tiles do not lie on a grid of their own size from the scene's corner")
    return blocks


def measure_on_tiles(tiles, settings):
    """Case 5: the map of every tile scored on the test tiles' labels; the workflow's own figures inside the
    training tiles as ``split_*``."""
    classifier, seconds = trained(tiles.ground.scene, settings)
    record, class_ids = classifier.record, np.asarray(classifier.class_ids)
    pixels, _, _ = workflow_pixels(tiles.ground, settings, record)
    halo, shape = classifier.window // 2, tiles.canvas.shape[:2]
    network = map_probabilities(replace(classifier, forest=None, svm=None, smoothing_radius=0, class_weights=None), tile_blocks(tiles, halo), shape)
    rows, cols = np.nonzero((tiles.test_labels != 0) & (network[..., 0] >= 0))
    reference = tiles.test_labels[rows, cols]
    spectra = tiles.canvas[rows, cols][:, kept_bands(tiles.canvas.shape[2], settings.exclude_bands)]
    ours = scored(reference, network[rows, cols], spectra, baseline_models(pixels, record, settings.training.seed),
                  class_ids)
    default = map_probabilities(classifier, tile_blocks(tiles, classifier.halo), shape)[rows, cols]
    ours.update(figures_of("default", accuracy_report(reference, class_ids[default.argmax(axis=-1)], class_ids)))
    workflow = {f"split_{key}": value for method, report in (("cnn", record.accuracy),
                                                             ("svm", record.baseline["accuracy"]),
                                                             ("forest", record.forest["accuracy"]))
                for key, value in figures_of(method, report).items()}
    return {**run_summary(record, seconds), "split_not_tested": record.split["not_tested"], **workflow, **ours,
            "n_map_test": len(rows), "not_tested": np.setdiff1d(class_ids, reference).tolist()}


CASES = {
    "indian_pines_fields": Case(benchmark_ground("indian_pines", with_fields=True), measure_on_split,
                                {"split": "grouped"}),
    "indian_pines_disjoint": Case(benchmark_ground("indian_pines"), measure_on_split, seeds=(0, 1, 2, 3, 4, 5)),
    "salinas_a_disjoint": Case(benchmark_ground("salinas_a"), measure_on_split),
    "indian_pines_paper": Case(benchmark_ground("indian_pines"), measure_on_split, {"split": "paper"}),
    "potsdam_tiles": Case(potsdam_tiles, measure_on_tiles),
    "potsdam_tiles_to_map": Case(partial(potsdam_tiles, tiles_to_map=True), measure_on_tiles),
}


# -- the runs and the table -------------------------------------------------------------------------

def settings_for(case, loaded, seed, epochs):
    """The plugin's default TrainingSettings at S = WINDOW and ``seed``, as the case asks."""
    training = TrainingConfig(window=WINDOW, seed=seed, **({} if epochs is None else {"epochs": epochs}))
    return TrainingSettings(exclude_bands=loaded.exclude_bands, training=training, **case.settings)


def table(runs):
    """Markdown: mean ± std over seeds per case (and epochs), in percent; seconds of the workflow's run."""
    groups = {}
    for run in runs:
        groups.setdefault((run["case"], run["epochs"]), []).append(run)

    def cell(group, key, scale=100):
        values = scale * np.array([run[key] for run in group], dtype=float)
        return f"{values.mean():.1f} ± {values.std():.1f}"

    columns = [f"{label} {figure.upper()}" for label in METHODS.values() for figure in ("oa", "aa")]
    lines = ["| case | epochs | seeds | " + " | ".join(columns) + " | seconds |", "|---" * (len(columns) + 4) + "|"]
    for (case, epochs), group in sorted(groups.items(), key=lambda item: (list(CASES).index(item[0][0]), item[0][1])):
        seeds = ",".join(str(run["seed"]) for run in sorted(group, key=lambda r: r["seed"]))
        cells = [cell(group, f"{method}_{figure}") for method in METHODS for figure in ("oa", "aa")]
        lines.append(f"| {case} | {epochs} | {seeds} | " + " | ".join(cells) + f" | {cell(group, 'seconds', 1)} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="folder laid out like ../shared/data")
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--seeds", type=int, nargs="+", help="default: each case's (0-2; indian_pines_disjoint 0-5)")
    parser.add_argument("--epochs", type=int, help="smoke tests only: overrides the default recipe's epochs")
    parser.add_argument("--out", default="bench-out/new_ground.jsonl")
    args = parser.parse_args()
    epochs = args.epochs or TrainingConfig().epochs
    runs = []
    if os.path.exists(args.out):
        with open(args.out) as stream:
            runs = [json.loads(line) for line in stream if line.strip()]
    done = {(r["case"], r["seed"], r["epochs"]) for r in runs}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    for name in args.cases:
        case = CASES[name]
        seeds = [seed for seed in args.seeds or case.seeds if (name, seed, epochs) not in done]
        loaded = case.load(args.data) if seeds else None
        for seed in seeds:
            print(f"{name} seed {seed}", flush=True)
            start = time.perf_counter()
            run = case.measure(loaded, settings_for(case, loaded, seed, args.epochs))
            run = json_ready({"case": name, "seed": seed, **run, "total_seconds": time.perf_counter() - start})
            with open(args.out, "a") as stream:
                stream.write(json.dumps(run) + "\n")
            runs.append(run)
            print(f"{name} seed {seed}: " + "  ".join(f"{label} OA {100 * run[f'{method}_oa']:.1f}"
                                                      for method, label in METHODS.items())
                  + (f"  (first network {100 * run['first_oa']:.1f})" if run["first_oa"] else "")
                  + f"  {run['seconds']:.0f} s", flush=True)
    print(table([r for r in runs if r["case"] in args.cases and r["epochs"] == epochs]))


if __name__ == "__main__":
    main()
