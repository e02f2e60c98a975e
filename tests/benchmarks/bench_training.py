"""Time to accuracy: the plugin's default training against the per-patch float32 50-epoch training of the
same network that the author's code does, on the same scene, split, window and seeds.

    python tests/benchmarks/bench_training.py --data ../shared/data --scenes indian_pines salinas_a --windows 11 21

For every (scene, window, seed) it trains twice in this process: ``ours`` (the default recipe with its
defaults: early stopping, the automatic arithmetic and batch layout) and ``baseline`` (the `paper` recipe,
patch by patch, float32, all 50 epochs, as the author's script). It prints each run's training seconds,
epochs, OA and how the batches were computed, then per (scene, window) the means and the ratio of the
baseline's training time to ours. Runs are appended to --out (JSON lines) as they finish and skipped when
already there, so a long grid can be resumed. --no-baseline times ours alone. --ours times a variant of
the defaults instead, written as bench_disjoint.py's recipes (``robust+standardise_bands=0``), so that two
recipes can be timed in one session of this machine, whose speed varies from day to day; its runs are
kept apart as the variant ``ours:<recipe>``. Not a test: an Indian Pines baseline run takes about
2 minutes at S = 11 and 15 at S = 21 on 2 cores.

--table prints, from --out alone, a markdown table by window of our mean training seconds, epochs and
OA / AA / kappa beside the paper's Table II (minutes on a Colab GPU) and Table III.

--throughput times one training epoch instead (after one epoch of warm-up) on each scene's paper-split
training pixels, patch by patch and on tiles, float32 and mixed bfloat16, and how long building that
epoch's batches takes in Python: where the time of a step goes.
"""
import argparse
import json
import os
import platform
import sys
import time

import keras
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fast3dcnn_qgis.core.bands import kept_bands  # noqa: E402
from fast3dcnn_qgis.core.batch_loop import train_epoch  # noqa: E402
from fast3dcnn_qgis.core.blocks import array_blocks  # noqa: E402
from fast3dcnn_qgis.core.network import build_fast3dcnn  # noqa: E402
from fast3dcnn_qgis.core.patches import PatchDataset  # noqa: E402
from fast3dcnn_qgis.core.reduction import SpectralReducer  # noqa: E402
from fast3dcnn_qgis.core.settings import DEFAULT_RECIPE, TrainingConfig, TrainingSettings  # noqa: E402
from fast3dcnn_qgis.core.splits import labelled_pixels, make_split  # noqa: E402
from fast3dcnn_qgis.core.tile_training import TRAINING_TILE_CORE, TileDataset, tile_trainer, tiling_gain  # noqa: E402
from fast3dcnn_qgis.core.workflow import Scene, train_classifier  # noqa: E402
from bench_disjoint import parse_recipe  # noqa: E402
from paper_tables import paper_figures  # noqa: E402
from scenes import SCENES  # noqa: E402

#: What the author's code does: the paper's recipe, patch by patch, float32, 50 epochs, no early stop.
BASELINE = {"recipe": "paper", "layout": "patches", "precision": "float32", "patience": 0, "epochs": 50}


def machine():
    """The processor a run was timed on: this project's 2-core machines differ from session to session
    (a Xeon with AMX, AMD EPYCs), and the same run has taken from 16 to 59 s on them."""
    try:
        with open("/proc/cpuinfo") as stream:
            model = next((line.split(":", 1)[1].strip() for line in stream if line.startswith("model name")), "")
    except OSError:
        model = ""
    return f"{model or platform.processor() or 'unknown processor'}, {os.cpu_count()} cores"


def train_once(cube, labels, scene, window, seed, split, variant):
    """One training of ``variant``: "baseline", "ours" (the defaults) or "ours:<recipe>"."""
    if variant == "baseline":
        fields = dict(BASELINE)
        recipe = fields.pop("recipe")
    else:
        recipe = variant.partition(":")[2] or DEFAULT_RECIPE
        fields = parse_recipe(recipe)[0]
    settings = TrainingSettings(exclude_bands=scene.exclude_bands, split=split, baseline=False,
                                training=TrainingConfig.recipe(recipe.partition("+")[0], window=window, seed=seed,
                                                               **fields))
    start = time.perf_counter()
    record = train_classifier(Scene(lambda: array_blocks(cube, 64), *cube.shape, labels), settings).record
    return {"scene": scene.name, "window": window, "seed": seed, "split": split, "variant": variant,
            "recipe": recipe, "oa": record.accuracy["overall_accuracy"], "aa": record.accuracy["average_accuracy"],
            "kappa": record.accuracy["kappa"], "train_seconds": record.timings["train_seconds"],
            "total_seconds": time.perf_counter() - start, "epochs_run": len(record.history["loss"]),
            "stop_reason": record.stop_reason, "layout": record.model["training_layout"],
            "dtype": record.model["training_dtype"], "tiling_gain": record.model["tiling_gain"], "machine": machine()}


def throughput(cube, labels, scene, window):
    """Seconds per training epoch by batch layout and arithmetic, and the batches' share of it."""
    reducer = SpectralReducer(kept_bands(cube.shape[2], scene.exclude_bands), None, 20)
    reducer.fit_blocks(block.data for block in array_blocks(cube, 64))
    reduced = reducer.transform_block(cube)[0]
    rows, cols, classes = labelled_pixels(labels)
    train = make_split(rows, cols, classes, "paper", None, 0, window).train
    rows, cols, targets = rows[train], cols[train], np.searchsorted(np.unique(classes), classes[train])
    print(f"{scene.name} S={window}: {len(rows)} training pixels, tiles save "
          f"{tiling_gain(rows, cols, window, 20, TRAINING_TILE_CORE):.2f} times the multiply-adds")
    for layout in ("patches", "tiles"):
        for dtype in ("float32", "mixed_bfloat16"):
            keras.utils.set_random_seed(0)
            network = build_fast3dcnn(window, 20, int(targets.max()) + 1, dtype=dtype)
            if layout == "tiles":
                model, data = tile_trainer(network, TRAINING_TILE_CORE), TileDataset(
                    reduced, rows, cols, targets, window, 256, TRAINING_TILE_CORE, shuffle=True)
            else:
                model, data = network, PatchDataset(reduced, rows, cols, targets, window=window, batch_size=256,
                                                    shuffle=True)
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", weighted_metrics=["accuracy"])
            train_epoch(model, data)
            start = time.perf_counter()
            train_epoch(model, data)
            seconds = time.perf_counter() - start
            start = time.perf_counter()
            for index in range(len(data)):
                data[index]
            building = time.perf_counter() - start
            print(f"  {layout} {dtype}: {seconds:.2f} s per epoch, {len(rows) / seconds:.0f} pixels/s, "
                  f"batches built in {building:.2f} s ({100 * building / seconds:.1f}%)", flush=True)


def summarise(runs):
    print("\nscene, S: ours (mean of seeds) | baseline | baseline time / ours")
    for scene, window in sorted({(run["scene"], run["window"]) for run in runs}):
        parts = {}
        for variant in sorted({run["variant"] for run in runs}, key=lambda name: name == "baseline"):
            chosen = [run for run in runs if (run["scene"], run["window"], run["variant"]) == (scene, window, variant)]
            if chosen:
                seconds = np.mean([run["train_seconds"] for run in chosen])
                oa = [100 * run["oa"] for run in chosen]
                parts[variant] = seconds
                print(f"  {scene} S={window} {variant}: {seconds:.1f} s training, OA {np.mean(oa):.2f} "
                      f"± {np.std(oa):.2f} ({len(chosen)} seeds, {np.mean([r['epochs_run'] for r in chosen]):.1f} "
                      f"epochs)")
        for variant, seconds in parts.items():
            if variant != "baseline" and "baseline" in parts:
                print(f"  {scene} S={window}: baseline / {variant} = {parts['baseline'] / seconds:.2f}x")


def window_table(runs):
    """Markdown: per scene and window, our means over seeds beside the paper's Tables II and III."""
    minutes, accuracy = paper_figures(2)["table2"], paper_figures(3)["table3"]
    lines = ["| scene | S | ours: training s | epochs | OA / AA / kappa | seeds | paper: training s (GPU) | "
             "OA / AA / kappa |", "|---|---|---|---|---|---|---|---|"]
    for scene, window in sorted({(run["scene"], run["window"]) for run in runs if run["variant"] == "ours"}):
        chosen = [run for run in runs if (run["scene"], run["window"], run["variant"]) == (scene, window, "ours")]
        oa = 100 * np.array([run["oa"] for run in chosen])
        ours = f"{oa.mean():.2f} ± {oa.std():.2f} / " + " / ".join(
            f"{100 * np.mean([run[key] for run in chosen]):.2f}" for key in ("aa", "kappa"))
        paper = accuracy.get(scene, {}).get(str(window))
        paper_minutes = minutes.get(scene, {}).get(str(window))
        lines.append(f"| {scene} | {window} | {np.mean([run['train_seconds'] for run in chosen]):.1f} | "
                     f"{np.mean([run['epochs_run'] for run in chosen]):.0f} | {ours} | {len(chosen)} | "
                     f"{'-' if paper_minutes is None else f'{60 * paper_minutes:.0f}'} | "
                     f"{'-' if paper is None else ' / '.join(str(paper[key]) for key in ('oa', 'aa', 'kappa'))} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="folder laid out like ../shared/data")
    parser.add_argument("--scenes", nargs="+", default=["indian_pines", "salinas_a"], choices=sorted(SCENES))
    parser.add_argument("--windows", nargs="+", type=int, default=[11])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--split", default="paper")
    parser.add_argument("--no-baseline", action="store_true", help="time the plugin's defaults only")
    parser.add_argument("--ours", default=DEFAULT_RECIPE, help="the recipe timed as ours, with +field=value")
    parser.add_argument("--out", default="bench-training.jsonl", help="JSON lines, one per run (resumable)")
    parser.add_argument("--throughput", action="store_true", help="time one epoch per layout and arithmetic")
    parser.add_argument("--table", action="store_true", help="run nothing: print the table by window of --out")
    args = parser.parse_args()
    if not args.table:
        print(f"machine: {machine()}", flush=True)
    if args.throughput:
        for name in args.scenes:
            cube, labels = SCENES[name].load(args.data)
            for window in args.windows:
                throughput(cube, labels, SCENES[name], window)
        return

    done = []
    if os.path.exists(args.out):
        with open(args.out) as stream:
            done = [json.loads(line) for line in stream if line.strip()]
    if args.table:
        print(window_table([run for run in done if run["split"] == args.split]))
        return
    key = lambda run: (run["scene"], run["window"], run["seed"], run["split"], run["variant"])  # noqa: E731
    finished = {key(run) for run in done}
    parse_recipe(args.ours)
    ours = "ours" if args.ours == DEFAULT_RECIPE else f"ours:{args.ours}"
    variants = [ours] if args.no_baseline else [ours, "baseline"]
    for name in args.scenes:
        scene = SCENES[name]
        if not scene.present(args.data):
            sys.exit(f"--data {args.data}: scene {name} not found (expected {scene.cube[0]})")
        cube, labels = scene.load(args.data)
        for window in args.windows:
            for seed in range(args.seeds):
                for variant in variants:
                    if (name, window, seed, args.split, variant) in finished:
                        continue
                    run = train_once(cube, labels, scene, window, seed, args.split, variant)
                    print(f"{name} S={window} seed {seed} {variant}: {run['train_seconds']:.1f} s, "
                          f"{run['epochs_run']} epochs, OA {100 * run['oa']:.2f}%, {run['layout']} "
                          f"{run['dtype']} ({run['stop_reason']})", flush=True)
                    done.append(run)
                    with open(args.out, "a") as stream:
                        stream.write(json.dumps(run) + "\n")
    summarise([run for run in done if run["split"] == args.split])


if __name__ == "__main__":
    main()
