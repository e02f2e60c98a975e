"""Training recipes on the disjoint split (issue 14), each beside an RBF SVM on the same pixels.

    python tests/benchmarks/bench_disjoint.py --data ../shared/data --scenes indian_pines salinas_a \\
        --seeds 0 1 2 --recipes paper robust --out bench-out/disjoint.jsonl

For each scene, seed and recipe: the disjoint split at S = 11 (classes it cannot hold left out, as
paper_tables.py does), the network trained by the recipe, its OA / AA / kappa and per-class recall on the
test pixels, its validation curve, and how it scores the test patches with their surroundings zeroed
(centre only) or filled with the centre spectrum: how much of its answer comes from the centre. Beside it,
an RBF SVM on the standardised raw spectra of the same training pixels, its C and gamma chosen on the
validation pixels (never on the test pixels), scored on the same test pixels.

A recipe is a name of settings.RECIPES, optionally followed by ``+field=value`` overrides of
TrainingConfig (``paper+spectral_noise=0.05+epochs=20``), or of the switch ``pca=train`` (PCA fitted on the
training pixels only, not the whole scene as the workflow does). With ``validation_into_training=1``
the SVM is refitted on the same pixels as the network, its C and gamma still chosen on validation first.

Runs are appended to --out as JSON lines as they finish and a rerun skips those already there; the table
(mean ± std over seeds per scene and recipe) is printed at the end (--tabulate: only the table). Not a
test: one run takes minutes on a CPU, so nothing here is timed or asserted.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from fast3dcnn_qgis.core.bands import kept_bands  # noqa: E402
from fast3dcnn_qgis.core.metrics import accuracy_report  # noqa: E402
from fast3dcnn_qgis.core.splits import labelled_pixels, make_split, validation_into_training  # noqa: E402
from paper_tables import separable_labels  # noqa: E402
from scenes import SCENES  # noqa: E402

#: Preprocessing switches of this script, with their defaults (the workflow's behaviour).
SWITCHES = {"pca": "scene"}
SVM_GRID = {"C": (1.0, 10.0, 100.0, 1000.0), "gamma": ("scale", 0.3, 3.0)}  # gamma in multiples of 'scale'


def parse_recipe(text):
    """(TrainingConfig keyword overrides, preprocessing switches) of a recipe string."""
    from fast3dcnn_qgis.core.settings import RECIPES, TrainingConfig

    name, *overrides = text.split("+")
    if name not in RECIPES:
        raise SystemExit(f"recipe '{text}': '{name}' is not one of {', '.join(RECIPES)}")
    fields = dict(RECIPES[name])
    switches = dict(SWITCHES)
    types = {key: type(value) for key, value in TrainingConfig().as_dict().items()}
    for override in overrides:
        key, _, value = override.partition("=")
        if key in switches:
            switches[key] = value
        elif key in types:
            fields[key] = bool(int(value)) if types[key] is bool else types[key](value)
        else:
            raise SystemExit(f"recipe '{text}': '{key}' is neither a TrainingConfig field nor one of "
                             f"{', '.join(SWITCHES)}")
    return fields, switches


def reduced_cube(cube, exclude, components, fit_pixels, scale, standardise_bands):
    """The PCA cube (H, W, components) of the workflow, fitted on ``fit_pixels`` ((rows, cols) or None: all)."""
    from fast3dcnn_qgis.core.reduction import SpectralReducer

    reducer = SpectralReducer(kept_bands(cube.shape[2], exclude), None, components, scale=scale,
                              standardise_bands=standardise_bands)
    sample = cube.reshape(-1, 1, cube.shape[2]) if fit_pixels is None else cube[fit_pixels][:, None, :]
    if standardise_bands:
        reducer.fit_band_statistics([sample])
    reducer.fit_blocks([sample])
    return reducer.transform_block(cube)[0]


def raw_spectra(cube, exclude, rows, cols):
    """The kept-band spectra (pixels, bands) float64 of the pixels (rows, cols)."""
    return cube[rows, cols][:, kept_bands(cube.shape[2], exclude)].astype(np.float64)


def svm_run(features, labels, split, merged, class_ids, standardise=True):
    """The RBF SVM on ``features`` (one row per labelled pixel; standardised on the training pixels unless
    told not to): C and gamma chosen on the validation pixels after fitting on the training pixels, then
    refitted on ``merged.train`` (the CNN's training pixels) and scored on the test pixels."""
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    def scaled(fit):
        return StandardScaler().fit(features[fit]).transform(features) if standardise else features

    x = scaled(split.train)
    best = None
    for c in SVM_GRID["C"]:
        for g in SVM_GRID["gamma"]:
            gamma = 1.0 / x.shape[1] if g == "scale" else g / x.shape[1]
            score = SVC(C=c, gamma=gamma).fit(x[split.train], labels[split.train]).score(x[split.val], labels[split.val])
            if best is None or score > best[0]:
                best = (score, c, gamma)
    _, c, gamma = best
    x = scaled(merged.train)
    predicted = SVC(C=c, gamma=gamma).fit(x[merged.train], labels[merged.train]).predict(x[merged.test])
    report = accuracy_report(labels[merged.test], predicted, class_ids)
    return {"svm_oa": report["overall_accuracy"], "svm_aa": report["average_accuracy"],
            "svm_kappa": report["kappa"], "svm_C": c, "svm_gamma_x_bands": gamma * x.shape[1],
            "svm_val_accuracy": best[0], "svm_per_class_recall": {str(k["id"]): k["recall"]
                                                                 for k in report["per_class"]}}


def cnn_run(reduced, rows, cols, targets, merged, class_ids, config):
    """Trains the network by ``config``; its test figures, curve and centre-versus-surroundings scores."""
    from fast3dcnn_qgis.core.patches import extract_patches
    from fast3dcnn_qgis.core.training import train_network

    start = time.perf_counter()
    result = train_network(reduced, rows, cols, targets, merged, len(class_ids), config)
    seconds = time.perf_counter() - start
    patches = extract_patches(reduced, rows[merged.test], cols[merged.test], config.window, config.padding)
    centre = config.window // 2
    only_centre = np.zeros_like(patches)
    only_centre[:, centre, centre] = patches[:, centre, centre]
    tiled = np.broadcast_to(patches[:, centre:centre + 1, centre:centre + 1], patches.shape)
    scores = {}
    reference = class_ids[targets[merged.test]]
    for name, inputs in (("", patches), ("centre_only_", only_centre), ("centre_tiled_", tiled)):
        predicted = class_ids[np.argmax(result.model.predict(inputs[..., None], batch_size=1024, verbose=0), axis=-1)]
        report = accuracy_report(reference, predicted, class_ids)
        scores.update({f"{name}oa": report["overall_accuracy"], f"{name}aa": report["average_accuracy"],
                       f"{name}kappa": report["kappa"]})
        if not name:
            scores["per_class_recall"] = {str(c["id"]): c["recall"] for c in report["per_class"]}
    return {**scores, "val_curve": result.history.get("val_accuracy"), "train_curve": result.history["accuracy"],
            "best_epoch": result.best_epoch, "train_seconds": seconds}


def measure(scene_name, seed, recipe, args, loaded):
    from fast3dcnn_qgis.core.settings import TrainingConfig

    scene = SCENES[scene_name]
    cube, labels = loaded
    labels = labels.copy()
    fields, switches = parse_recipe(recipe)
    config = TrainingConfig(**{**fields, "window": args.window, "seed": seed,
                               "validation_every": args.validation_every})
    dropped = separable_labels(labels, "disjoint", None, {"seed": seed, "window": config.window})
    rows, cols, y = labelled_pixels(labels)
    class_ids = np.unique(y)
    targets = np.searchsorted(class_ids, y)
    split = make_split(rows, cols, y, "disjoint", seed=seed, window=config.window)
    merged = validation_into_training(split, rows, cols, config.window) if config.validation_into_training else split
    fit_pixels = (rows[merged.train], cols[merged.train]) if switches["pca"] == "train" else None
    reduced = reduced_cube(cube, scene.exclude_bands, args.components, fit_pixels, config.component_scale,
                           config.standardise_bands)
    svm_key = (scene_name, seed, config.validation_into_training, config.window)
    if svm_key not in args.svm_cache:
        args.svm_cache[svm_key] = svm_run(raw_spectra(cube, scene.exclude_bands, rows, cols), y, split, merged,
                                           class_ids)
    figures = cnn_run(reduced, rows, cols, targets, merged, class_ids, config)
    return {"scene": scene_name, "seed": seed, "recipe": recipe, "window": config.window, "config": config.as_dict(),
            "switches": switches, "n_train": len(merged.train), "n_val": len(merged.val), "n_test": len(merged.test),
            "dropped_classes": dropped, **figures, **args.svm_cache[svm_key]}


def table(runs):
    """Markdown: mean ± std over seeds per scene and recipe, in percent."""
    groups = {}
    for run in runs:
        groups.setdefault((run["scene"], run["recipe"]), []).append(run)

    def cell(group, key):
        values = 100 * np.array([run[key] for run in group])
        return f"{values.mean():.1f} ± {values.std():.1f}"

    lines = ["| scene | recipe | seeds | CNN OA | CNN AA | CNN κ | centre-only OA | SVM OA | SVM AA | SVM κ |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for (scene, recipe), group in sorted(groups.items()):
        seeds = ",".join(str(run["seed"]) for run in sorted(group, key=lambda r: r["seed"]))
        lines.append(f"| {scene} | {recipe} | {seeds} | " + " | ".join(
            cell(group, key) for key in ("oa", "aa", "kappa", "centre_only_oa", "svm_oa", "svm_aa", "svm_kappa"))
            + " |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="folder laid out like ../shared/data")
    parser.add_argument("--scenes", nargs="+", default=["indian_pines", "salinas_a"], choices=sorted(SCENES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--recipes", nargs="+", default=["paper", "robust"])
    parser.add_argument("--window", type=int, default=11)
    parser.add_argument("--components", type=int, default=20)
    parser.add_argument("--validation-every", type=int, default=5, help="validation curve step (epochs)")
    parser.add_argument("--out", default="bench-out/disjoint.jsonl")
    parser.add_argument("--tabulate", action="store_true", help="run nothing: print the table of --out")
    args = parser.parse_args()
    for recipe in args.recipes:
        parse_recipe(recipe)
    runs = []
    if os.path.exists(args.out):
        with open(args.out) as stream:
            runs = [json.loads(line) for line in stream if line.strip()]
    done = {(r["scene"], r["seed"], r["recipe"], r["window"]) for r in runs}
    args.svm_cache = {(r["scene"], r["seed"], r["config"]["validation_into_training"], r["window"]):
                      {k: v for k, v in r.items() if k.startswith("svm_")} for r in runs}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    for scene_name in [] if args.tabulate else args.scenes:
        loaded = SCENES[scene_name].load(args.data)
        for recipe in args.recipes:
            for seed in args.seeds:
                if (scene_name, seed, recipe, args.window) in done:
                    continue
                run = measure(scene_name, seed, recipe, args, loaded)
                with open(args.out, "a") as stream:
                    stream.write(json.dumps(run) + "\n")
                runs.append(run)
                print(f"{scene_name} seed {seed} {recipe}: CNN OA {100 * run['oa']:.1f} AA {100 * run['aa']:.1f} "
                      f"(centre only {100 * run['centre_only_oa']:.1f}, centre tiled {100 * run['centre_tiled_oa']:.1f})"
                      f"  SVM OA {100 * run['svm_oa']:.1f}  best epoch {run['best_epoch']}  "
                      f"{run['train_seconds']:.0f} s", flush=True)
    print(table([r for r in runs if r["scene"] in args.scenes and r["recipe"] in args.recipes]))


if __name__ == "__main__":
    main()
