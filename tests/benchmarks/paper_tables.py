"""Reproduces the paper's Table III (OA, AA, kappa per window size) on every benchmark scene found in a
data folder, under three protocols, and writes the table beside the paper's figures.

    python tests/benchmarks/paper_tables.py --data ../shared/data --out bench-out
    python tests/benchmarks/paper_tables.py --data ../shared/data --quick

Protocols (--splits): ``paper`` (30% test, the rest halved into training and validation: the paper's
recipe, where overlapping patches let test pixels be seen in training), ``fraction`` (10% training pixels
per class, as the paper's Table IV), ``disjoint`` (spatially separated training and test ground: what a
user should expect on new ground).

Each run (scene, split, window, seed) is a child process of this script, so its peak resident memory is
its own. Runs are appended to <out>/runs.jsonl as they finish; a rerun skips those already there. Each run
leaves a confusion-matrix heat map and a classification-map preview under <out>/figures/, like the
paper's Figures 5-8. The table is <out>/table.md, the figures by configuration <out>/summary.json;
--tabulate rewrites both from runs.jsonl alone. --jobs N runs N children at once: pointless on a CPU,
where one training already keeps every core busy, but 12 at once gave an H200 about 2.5 times the
throughput of one.
Classes the disjoint split cannot separate at a window are left out of that run and named in the table.
The validation pixels are scored once, after the last epoch: they stay out of training and, with no
best-epoch selection, never change the weights (a test shows the same model either way), while scoring
them every epoch took a third of the training time at S = 21.
Not a test: the full grid takes about a day on 2 cores.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fast3dcnn_qgis.core.classes import ClassTable  # noqa: E402
from fast3dcnn_qgis.core.settings import DEFAULT_RECIPE, RECIPES  # noqa: E402
from fast3dcnn_qgis.reporting.png import class_map_png, png_bytes  # noqa: E402
from scenes import SCENES  # noqa: E402

WINDOWS = (11, 13, 15, 17, 19, 21, 25)
#: Protocol name -> (make_split method, value).
SPLITS = {"paper": ("paper", None), "fraction": ("fraction", 0.1), "disjoint": ("disjoint", None)}
#: Map previews are enlarged by a whole factor until their longer side reaches this many pixels.
PREVIEW_SIDE = 400


def run_key(run):
    # Runs recorded before the recipes existed used the paper's.
    return (run["scene"], run["split"], run["window"], run["seed"], run["epochs"], run.get("recipe", "paper"))


def planned_runs(args):
    scenes = [name for name, scene in SCENES.items() if scene.present(args.data)]
    if not scenes:
        sys.exit(f"--data {args.data}: none of the scenes {', '.join(SCENES)} is there "
                 f"(expected files such as {SCENES['indian_pines'].cube[0]}); point --data at a folder laid "
                 f"out like ../shared/data")
    if args.quick:
        scenes = ["salinas_a" if "salinas_a" in scenes else scenes[0]]
        windows, splits, seeds = [11], ["paper"], [0]
    else:
        windows, splits, seeds = args.windows, args.splits, range(args.seeds)
    # Protocol first: a grid cut short by a time limit still holds whole protocols, the paper's first.
    return [{"scene": scene, "split": split, "window": window, "seed": seed, "epochs": args.epochs,
             "recipe": args.recipe}
            for split in splits for window in windows for scene in scenes for seed in seeds]


def done_runs(path):
    if not os.path.exists(path):
        return {}
    with open(path) as stream:
        runs = [json.loads(line) for line in stream if line.strip()]
    return {run_key(run): run for run in runs}


def run_in_child(run, data, figures):
    """The figures of one run, measured in a fresh Python process."""
    with tempfile.TemporaryDirectory() as folder:
        result = os.path.join(folder, "run.json")
        command = [sys.executable, os.path.abspath(__file__), "--data", data, "--figures", figures,
                   "--one", json.dumps(run), "--result", result]
        completed = subprocess.run(command)
        if completed.returncode != 0 or not os.path.exists(result):
            raise RuntimeError(f"run {run} failed with exit status {completed.returncode} (its output is above)")
        with open(result) as stream:
            return json.load(stream)


def measure(run, data, figures):
    """Trains, classifies the whole scene and saves the previews; returns the figures of the run."""
    from fast3dcnn_qgis.core.blocks import array_blocks
    from fast3dcnn_qgis.core.prediction import predict_blocks
    from fast3dcnn_qgis.core.settings import TrainingConfig, TrainingSettings
    from fast3dcnn_qgis.core.workflow import Scene, train_classifier

    scene = SCENES[run["scene"]]
    cube, labels = scene.load(data)
    method, value = SPLITS[run["split"]]
    classes = ClassTable.from_ids(np.unique(labels[labels != 0])).completed()
    colors = classes.colors
    dropped = separable_labels(labels, method, value, run)
    settings = TrainingSettings(exclude_bands=scene.exclude_bands, split=method, split_value=value,
                                training=TrainingConfig.recipe(run.get("recipe", "paper"), window=run["window"],
                                                               epochs=run["epochs"], seed=run["seed"],
                                                               validation_every=run["epochs"]))
    classifier = train_classifier(Scene(lambda: array_blocks(cube, 64), *cube.shape, labels, classes=classes), settings)
    record = classifier.record
    report = record.accuracy

    start = time.perf_counter()
    predicted = np.zeros(labels.shape, dtype=np.int32)
    for block, block_labels, *_ in predict_blocks(classifier, array_blocks(cube, 256, halo=run["window"] // 2)):
        rows, cols = block.shape
        predicted[block.row:block.row + rows, block.col:block.col + cols] = block_labels
    predict_seconds = time.perf_counter() - start

    stem = os.path.join(figures, "{scene}_{split}_S{window}_seed{seed}".format(**run))
    os.makedirs(figures, exist_ok=True)
    _write(stem + "_map.png", class_map_png(_enlarged(predicted), colors))
    _write(stem + "_confusion.png", confusion_png(np.asarray(report["confusion_matrix"])))
    ground_truth = os.path.join(figures, f"{run['scene']}_ground_truth.png")
    if not os.path.exists(ground_truth):
        _write(ground_truth, class_map_png(_enlarged(labels), colors))

    split = record.split
    svm = record.baseline["accuracy"]
    return {**run, "oa": report["overall_accuracy"], "aa": report["average_accuracy"], "kappa": report["kappa"],
            "svm_oa": svm["overall_accuracy"], "svm_aa": svm["average_accuracy"], "svm_kappa": svm["kappa"],
            "train_seconds": record.timings["train_seconds"], "predict_seconds": predict_seconds,
            "predict_pixels_per_second": labels.size / predict_seconds,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "n_train": split["n_train"], "n_val": split["n_val"], "n_test": split["n_test"],
            "split_description": split["description"], "best_epoch": record.best_epoch,
            "per_class_recall": {str(c["id"]): c["recall"] for c in report["per_class"]},
            "dropped_classes": dropped, "machine": machine(), "versions": record.versions}


def machine():
    """Where the run trained: CPU cores, the GPU if one did the work, and Keras's backend."""
    import keras

    from fast3dcnn_qgis.setup.dependencies import compute_device

    device = compute_device()
    return (f"{os.cpu_count()} CPU cores" + ("" if device == "CPU" else f", {device.removeprefix('GPU: ')}")
            + f", Keras on {keras.backend.backend()}")


def separable_labels(labels, method, value, run):
    """Unlabels (in place) the classes the split cannot test, one split at a time, and returns their
    ids: the figures of the earlier runs in results/ were measured without them (the split refused
    them then; training now keeps them, untested). Mostly the disjoint split's small fields."""
    from fast3dcnn_qgis.core.splits import labelled_pixels, make_split

    dropped = []
    while True:
        split = make_split(*labelled_pixels(labels), method, value, seed=run["seed"], window=run["window"])
        if not split.not_tested:
            return dropped
        labels[np.isin(labels, split.not_tested)] = 0
        dropped += list(split.not_tested)


def _enlarged(labels):
    factor = max(1, PREVIEW_SIDE // max(labels.shape))
    return np.repeat(np.repeat(labels, factor, axis=0), factor, axis=1)


def confusion_png(matrix, cell=24):
    """A heat map of the confusion matrix (rows reference, columns predicted), each row as shares of
    its reference class: the diagonal in green, confusions in red, both darker the larger the share."""
    shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    diagonal = np.eye(len(matrix), dtype=bool)
    strength = np.sqrt(shares)  # small confusions stay visible
    rgb = np.empty(matrix.shape + (3,))
    hue = np.where(diagonal[..., None], [0.10, 0.55, 0.20], [0.80, 0.10, 0.10])
    rgb[:] = 1 - strength[..., None] * (1 - hue)
    rgba = np.concatenate([np.round(255 * rgb), np.full(matrix.shape + (1,), 255.0)], axis=-1).astype(np.uint8)
    image = np.repeat(np.repeat(rgba, cell, axis=0), cell, axis=1)
    image[::cell, :, :3] = 200  # grid lines
    image[:, ::cell, :3] = 200
    return png_bytes(image)


def _write(path, data):
    temp = f"{path}.{os.getpid()}.part"
    with open(temp, "wb") as stream:
        stream.write(data)
    os.replace(temp, path)


def _write_text(path, text):
    _write(path, text.encode("utf-8"))


def summarise(runs):
    """{(scene, split, window): {metric: (mean, std, n)}} over the seeds that could be run."""
    groups = {}
    for run in (run for run in runs if "error" not in run):
        groups.setdefault((run["scene"], run["split"], run["window"]), []).append(run)
    metrics = ("oa", "aa", "kappa", "svm_oa", "svm_aa", "svm_kappa", "train_seconds", "predict_seconds",
               "peak_rss_mb")
    # Runs recorded before the SVM baseline existed have no svm_* figures: those are left out.
    return {key: {m: (float(np.mean(values)), float(np.std(values)), len(values))
                  for m in metrics for values in [[r[m] for r in group if m in r]] if values}
            for key, group in sorted(groups.items())}


def paper_figures(number=3):
    """The paper's Table ``number`` (2: training minutes, 3: accuracy) as transcribed beside this script,
    with its source and layout."""
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), f"paper_table{number}.json")) as stream:
        return json.load(stream)


def markdown(summary, runs, paper, epochs):
    """Table III's layout: window sizes as rows, OA / AA / kappa per scene as columns (and the OA of the
    SVM baseline on the same pixels, core/baseline.py), in percent, mean ±
    standard deviation over the seeds, with the paper's figure in brackets where it gives one."""
    known = (f"[paper: x] is the paper's Table III figure ({paper['source']})." if paper.get("table3") else
             f"The paper's figures are not shown. Source: {paper['source']}.")
    machines = sorted({run.get("machine", "unrecorded machine") for run in runs if "error" not in run})
    recipes = sorted({run.get("recipe", "paper") for run in runs})
    lines = [f"All figures in percent, mean ± standard deviation over seeds (n = number of seeds), {epochs} "
             f"epochs, recipe {', '.join(recipes)}, measured on: {'; '.join(machines)}. {known}", ""]
    scenes = sorted({scene for scene, _, _ in summary})
    for split in SPLITS:
        windows = sorted({w for s, sp, w in summary if sp == split})
        if not windows:
            continue
        lines += [f"### {split} split", "",
                  "| S | " + " | ".join(f"{s} {m}" for s in scenes for m in ("OA", "AA", "κ", "SVM OA")) + " |",
                  "|---|" + "---|" * (4 * len(scenes))]
        for window in windows:
            cells = []
            for scene in scenes:
                figures = summary.get((scene, split, window))
                for metric in ("oa", "aa", "kappa", "svm_oa"):
                    cells.append(_cell(figures, metric, paper, scene, split, window))
            lines.append(f"| {window} | " + " | ".join(cells) + " |")
        lines += _left_out(runs, split)
        lines += ["", f"Cost per run ({split} split): training s, whole-scene prediction s, peak memory MB.", "",
                  "| S | " + " | ".join(f"{s} train s | {s} predict s | {s} peak MB" for s in scenes) + " |",
                  "|---|" + "---|" * (3 * len(scenes))]
        for window in windows:
            cells = []
            for scene in scenes:
                figures = summary.get((scene, split, window))
                for metric, digits in (("train_seconds", 1), ("predict_seconds", 2), ("peak_rss_mb", 0)):
                    cells.append("—" if figures is None else
                                 f"{figures[metric][0]:.{digits}f} ± {figures[metric][1]:.{digits}f}")
            lines.append(f"| {window} | " + " | ".join(cells) + " |")
        lines.append("")
    impossible = [run for run in runs if "error" in run]
    if impossible:
        lines += ["### Runs that could not be made", ""]
        lines += ["- {scene} {split} S={window} seed {seed}: {error}".format(**run) for run in impossible]
        lines.append("")
    return "\n".join(lines)


def _left_out(runs, split):
    """Lines naming the classes a split could not separate, per scene and window (the figures above
    are over the other classes)."""
    left_out = {}
    for run in runs:
        if run["split"] == split and run.get("dropped_classes"):
            key = (run["scene"], run["window"], tuple(sorted(run["dropped_classes"])))
            left_out.setdefault(key, []).append(run["seed"])
    if not left_out:
        return []
    return ["", "Classes left out, because this split cannot give them training pixels whose patches miss "
                "every test pixel (the figures above are over the other classes):", ""] + [
        f"- {scene} S={window}: classes {', '.join(map(str, classes))} (seeds {', '.join(map(str, sorted(seeds)))})"
        for (scene, window, classes), seeds in sorted(left_out.items())]


def _cell(figures, metric, paper, scene, split, window):
    text = "—" if figures is None or metric not in figures else \
        f"{100 * figures[metric][0]:.2f} ± {100 * figures[metric][1]:.2f} (n={figures[metric][2]})"
    if split == "paper":
        known = paper.get("table3", {}).get(scene, {}).get(str(window), {}).get(metric)
        if known is not None:
            text += f" [paper: {known:.2f}]"
    return text


def write_outputs(out, runs, epochs):
    summary = summarise(runs)
    paper = paper_figures()
    _write_text(os.path.join(out, "table.md"), markdown(summary, runs, paper, epochs))
    rows = [{"scene": scene, "split": split, "window": window, "n_seeds": figures["oa"][2],
             **{f"{m}_mean": v[0] for m, v in figures.items()}, **{f"{m}_std": v[1] for m, v in figures.items()},
             "dropped_classes": sorted({c for run in runs if "error" not in run
                                        and (run["scene"], run["split"], run["window"]) == (scene, split, window)
                                        for c in run.get("dropped_classes", [])}),
             "paper": paper.get("table3", {}).get(scene, {}).get(str(window)) if split == "paper" else None}
            for (scene, split, window), figures in summary.items()]
    _write_text(os.path.join(out, "summary.json"),
                json.dumps({"paper_source": paper["source"], "configurations": rows,
                            "impossible_runs": [run for run in runs if "error" in run]}, indent=2))


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="folder laid out like ../shared/data")
    parser.add_argument("--out", default="bench-out", help="folder for runs.jsonl, table.md, summary.json, "
                                                               "figures/ (default bench-out)")
    parser.add_argument("--windows", type=int, nargs="+", default=list(WINDOWS))
    parser.add_argument("--splits", nargs="+", choices=list(SPLITS), default=list(SPLITS))
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0 .. N-1 (default 3)")
    parser.add_argument("--epochs", type=int, help="most epochs (default: the recipe's, robust 40, paper 50)")
    parser.add_argument("--recipe", choices=list(RECIPES), default=DEFAULT_RECIPE,
                        help=f"training recipe (default {DEFAULT_RECIPE}; paper: the paper's exactly)")
    parser.add_argument("--quick", action="store_true", help="one scene (salinas_a if present), window 11, "
                                                             "paper split, seed 0")
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time (default 1: on a CPU one run "
                                                            "already keeps every core busy; on a GPU several "
                                                            "share it)")
    parser.add_argument("--tabulate", action="store_true", help="run nothing: write the table from the runs "
                                                                "already in <out>/runs.jsonl")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # a run, as JSON: the child process's job
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--figures", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.epochs is None:
        args.epochs = RECIPES[args.recipe]["epochs"]
    bad = [w for w in args.windows if w < 3 or w % 2 == 0]
    if bad:
        parser.error(f"--windows {' '.join(map(str, bad))}: a window must be an odd number of pixels, 3 or more")
    if min(args.seeds, args.epochs, args.jobs) < 1:
        parser.error(f"--seeds {args.seeds} --epochs {args.epochs} --jobs {args.jobs}: each must be 1 or more")
    return args


def print_run(figures):
    if "error" in figures:
        print(f"    not possible: {figures['error']}", flush=True)
        return
    dropped = f"  (classes {figures['dropped_classes']} left out)" if figures.get("dropped_classes") else ""
    print(f"    OA {100 * figures['oa']:.2f}%  AA {100 * figures['aa']:.2f}%  kappa {100 * figures['kappa']:.2f}"
          f"  training {figures['train_seconds']:.1f} s  prediction {figures['predict_seconds']:.2f} s"
          f"  peak {figures['peak_rss_mb']:.0f} MB{dropped}", flush=True)


def main():
    args = parse_arguments()
    if args.one:
        run = json.loads(args.one)
        try:
            figures = measure(run, args.data, args.figures)
        except ValueError as error:  # the configuration cannot be made (say, a disjoint split too coarse)
            figures = {**run, "error": str(error)}
        _write_text(args.result, json.dumps(figures))
        return
    os.makedirs(args.out, exist_ok=True)
    runs_path = os.path.join(args.out, "runs.jsonl")
    done = done_runs(runs_path)
    plan = planned_runs(args)
    missing = [run for run in plan if run_key(run) not in done]
    todo = [] if args.tabulate else missing
    print(f"{len(plan)} runs planned, {len(plan) - len(missing)} already in {runs_path}"
          + (f"; {len(missing)} not run (--tabulate)" if args.tabulate and missing else ""), flush=True)
    figures_folder = os.path.join(args.out, "figures")
    with ThreadPoolExecutor(args.jobs) as pool:  # threads only wait for the child processes
        futures = {pool.submit(run_in_child, run, args.data, figures_folder): run for run in todo}
        for number, future in enumerate(as_completed(futures), 1):
            figures = future.result()
            with open(runs_path, "a") as stream:
                stream.write(json.dumps(figures) + "\n")
            done[run_key(figures)] = figures
            print(f"[{number}/{len(todo)}] {futures[future]}", flush=True)
            print_run(figures)
    wanted = {run_key(run) for run in plan}
    write_outputs(args.out, [run for key, run in done.items() if key in wanted], args.epochs)
    print(open(os.path.join(args.out, "table.md")).read())
    print(f"Table: {os.path.join(args.out, 'table.md')}, summary: {os.path.join(args.out, 'summary.json')}, "
          f"previews: {os.path.join(args.out, 'figures')}")


if __name__ == "__main__":
    main()
