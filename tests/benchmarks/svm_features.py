"""How much of what an SVM recognises on new ground survives the network's input (issue 14).

    python tests/benchmarks/svm_features.py --data ../shared/data --scenes indian_pines --seeds 0 1 2

On the disjoint split (S = 11, the `robust` recipe's training pixels: validation pixels no test window
reaches are trained on), the RBF SVM of bench_disjoint.py is fitted on different features of the same
pixels and scored on the same test pixels:

- ``raw``: the kept bands, standardised (the baseline every training report shows);
- ``pca<B>-<scale>``: the workflow's reduction (incremental PCA fitted on the whole scene, B components,
  scaled ``each`` or ``first`` as settings.COMPONENT_SCALES), as the network receives them;
- ``pca<B>-<scale>-corr``: the same with the bands standardised over the scene first (a PCA of the
  correlation matrix, the reducer's ``standardise_bands``), which gives the weak bands the same weight
  as the bright ones.

If the SVM loses little on the network's 20 components, the network's deficit on new ground is its own;
if it loses much, the reduction is the limit. Runs are appended to --out as JSON lines (a rerun skips
those there) and the table (mean ± std over seeds, OA in %) is printed at the end. Not a test.
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_disjoint import reduced_cube, svm_run  # noqa: E402
from fast3dcnn_qgis.core.bands import kept_bands  # noqa: E402
from fast3dcnn_qgis.core.splits import labelled_pixels, make_split, validation_into_training  # noqa: E402
from paper_tables import separable_labels  # noqa: E402
from scenes import SCENES  # noqa: E402

WINDOW = 11


def feature_cubes(cube, exclude, components):
    """{name: (features (H, W, n), whether the SVM standardises them)}: the features of every pixel."""
    cubes = {"raw": (cube[..., kept_bands(cube.shape[2], exclude)].astype(np.float64), True)}
    for count in components:
        for scale in ("each", "first"):
            for suffix, standardise in (("", False), ("-corr", True)):
                cubes[f"pca{count}-{scale}{suffix}"] = (
                    reduced_cube(cube, exclude, count, None, scale, standardise).astype(np.float64), False)
    return cubes


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="folder laid out like ../shared/data")
    parser.add_argument("--scenes", nargs="+", default=["indian_pines"], choices=sorted(SCENES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--components", type=int, nargs="+", default=[20, 30, 50])
    parser.add_argument("--out", default="bench-out/svm_features.jsonl")
    args = parser.parse_args()
    runs = []
    if os.path.exists(args.out):
        with open(args.out) as stream:
            runs = [json.loads(line) for line in stream if line.strip()]
    done = {(run["scene"], run["seed"], run["features"]) for run in runs}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    for scene_name in args.scenes:
        scene = SCENES[scene_name]
        cube, all_labels = scene.load(args.data)
        cubes = feature_cubes(cube, scene.exclude_bands, args.components)
        for seed in args.seeds:
            labels = all_labels.copy()
            separable_labels(labels, "disjoint", None, {"seed": seed, "window": WINDOW})
            rows, cols, y = labelled_pixels(labels)
            split = make_split(rows, cols, y, "disjoint", seed=seed, window=WINDOW)
            merged = validation_into_training(split, rows, cols, WINDOW)
            for name, (features, standardise) in cubes.items():
                if (scene_name, seed, name) in done:
                    continue
                features = features[rows, cols]
                run = {"scene": scene_name, "seed": seed, "features": name, "n_features": features.shape[1],
                       **svm_run(features, y, split, merged, np.unique(y), standardise)}
                with open(args.out, "a") as stream:
                    stream.write(json.dumps(run) + "\n")
                runs.append(run)
                print(f"{scene_name} seed {seed} {name}: SVM OA {100 * run['svm_oa']:.1f}", flush=True)
    print("| scene | features | SVM OA (mean ± std) | seeds |\n|---|---|---|---|")
    groups = {}
    for run in runs:
        groups.setdefault((run["scene"], run["features"]), []).append(run)
    for (scene_name, name), group in groups.items():
        values = 100 * np.array([run["svm_oa"] for run in sorted(group, key=lambda r: r["seed"])])
        print(f"| {scene_name} | {name} | {values.mean():.1f} ± {values.std():.1f} | "
              f"{' / '.join(f'{v:.1f}' for v in values)} |")


if __name__ == "__main__":
    main()
