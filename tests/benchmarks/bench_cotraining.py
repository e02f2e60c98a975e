"""Co-training on the disjoint split (issue 14): the network retrained on pixels where it and the SVM agree.

    python tests/benchmarks/bench_cotraining.py --data ../shared/data --scenes indian_pines --seeds 0 1 2 \\
        --out bench-out/cotraining.jsonl

On new ground the network and the SVM err on different pixels: the network on fields whose surroundings
look unlike the training fields', the SVM on spectra it cannot separate. For each scene and seed: the
`robust` network is trained on the disjoint split (S = 11, patches) and the SVM of bench_disjoint.py on
the same pixels (C and gamma chosen on the validation pixels); both classify every pixel of the scene.
Pixels outside training where the two agree and the network's softmax reaches --threshold become
pseudo-labelled training pixels (per class at most --cap times the class's training pixels, the most
confident first), and the network is trained again from new weights on training plus pseudo-labelled
pixels. No test label is used: the pool is the scene as an analyst has it (--pool unlabelled-only leaves
out every labelled pixel and any pixel within a window of a test pixel, to show what the test ground
itself contributes). The labels of labelled pool pixels are read only to report how right the pseudo-
labels were. Runs are appended to --out as JSON lines. Not a test: a run takes minutes.
"""
import argparse
import json
import os
import sys
import time
from dataclasses import replace

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bench_disjoint import parse_recipe, raw_spectra, reduced_cube, svm_run  # noqa: E402
from fast3dcnn_qgis.core.metrics import accuracy_report  # noqa: E402
from fast3dcnn_qgis.core.splits import Split, labelled_pixels, make_split, validation_into_training  # noqa: E402
from paper_tables import separable_labels  # noqa: E402
from scenes import SCENES  # noqa: E402

WINDOW = 11


def scene_softmax(model, reduced, rows, cols, padding):
    from fast3dcnn_qgis.core.patches import PatchDataset

    return model.predict(PatchDataset(reduced, rows, cols, None, WINDOW, 1024, padding), verbose=0)


def svm_scene(cube, exclude, rows, cols, y, split, merged, class_ids, all_rows, all_cols):
    """The SVM's class indices for every pixel (all_rows, all_cols), fitted like bench_disjoint's."""
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    spectra = raw_spectra(cube, exclude, rows, cols)
    chosen = svm_run(spectra, y, split, merged, class_ids)
    scaler = StandardScaler().fit(spectra[merged.train])
    svm = SVC(C=chosen["svm_C"], gamma=chosen["svm_gamma_x_bands"] / spectra.shape[1])
    svm.fit(scaler.transform(spectra[merged.train]), y[merged.train])
    predicted = np.concatenate([svm.predict(scaler.transform(raw_spectra(cube, exclude, all_rows[s:s + 20000],
                                                                         all_cols[s:s + 20000])))
                                for s in range(0, len(all_rows), 20000)])
    return np.searchsorted(class_ids, predicted), chosen


def pseudo_labels(network, svm, confidence, pool, train_counts, cap, threshold):
    """Flat positions and classes of the pool pixels where network and SVM agree and the network is sure."""
    chosen = []
    for k, count in enumerate(train_counts):
        candidates = np.nonzero(pool & (network == k) & (svm == k) & (confidence >= threshold))[0]
        chosen.append(candidates[np.argsort(-confidence[candidates], kind="stable")][:int(cap * count)])
    chosen = np.concatenate(chosen)
    return chosen, network[chosen]


def measure(scene_name, seed, args, loaded):
    from fast3dcnn_qgis.core.settings import TrainingConfig
    from fast3dcnn_qgis.core.splits import _near
    from fast3dcnn_qgis.core.training import train_network

    scene = SCENES[scene_name]
    cube, labels = loaded
    labels = labels.copy()
    fields, _ = parse_recipe(args.recipe)
    config = TrainingConfig(**{**fields, "window": WINDOW, "seed": seed, "layout": "patches"})
    separable_labels(labels, "disjoint", None, {"seed": seed, "window": WINDOW})
    height, width = labels.shape
    rows, cols, y = labelled_pixels(labels)
    class_ids = np.unique(y)
    targets = np.searchsorted(class_ids, y)
    split = make_split(rows, cols, y, "disjoint", seed=seed, window=WINDOW)
    merged = validation_into_training(split, rows, cols, WINDOW)
    reduced = reduced_cube(cube, scene.exclude_bands, 20, None, config.component_scale, config.standardise_bands)
    all_rows, all_cols = np.divmod(np.arange(height * width), width)
    reference = y[merged.test]
    start = time.perf_counter()
    first = train_network(reduced, rows, cols, targets, merged, len(class_ids), config).model
    softmax = scene_softmax(first, reduced, all_rows, all_cols, config.padding)
    network, confidence = np.argmax(softmax, axis=-1), softmax.max(axis=-1)
    svm, chosen_svm = svm_scene(cube, scene.exclude_bands, rows, cols, y, split, merged, class_ids, all_rows, all_cols)
    flat = rows * width + cols
    pool = np.ones(height * width, dtype=bool)
    pool[flat[merged.train]] = False
    if args.pool == "unlabelled-only":
        pool[flat] = False
        test = np.zeros(len(rows) + height * width, dtype=bool)
        test[merged.test] = True
        near_test = _near(np.concatenate([rows, all_rows]), np.concatenate([cols, all_cols]), test, WINDOW)
        pool &= ~near_test[len(rows):]
    chosen, classes = pseudo_labels(network, svm, confidence, pool,
                                    np.bincount(targets[merged.train], minlength=len(class_ids)), args.cap,
                                    args.threshold)
    truth = np.zeros(height * width, dtype=int)
    truth[flat] = targets + 1
    known = truth[chosen] > 0
    extended = Split(np.concatenate([merged.train, len(rows) + np.arange(len(chosen))]), merged.val, merged.test,
                     merged.method, merged.value)
    second = train_network(reduced, np.concatenate([rows, all_rows[chosen]]), np.concatenate([cols, all_cols[chosen]]),
                           np.concatenate([targets, classes]), extended, len(class_ids),
                           replace(config, seed=seed + 100)).model
    seconds = time.perf_counter() - start
    retrained = np.argmax(scene_softmax(second, reduced, rows[merged.test], cols[merged.test], config.padding), -1)
    reports = {"first": accuracy_report(reference, class_ids[network[flat[merged.test]]], class_ids),
               "svm": accuracy_report(reference, class_ids[svm[flat[merged.test]]], class_ids),
               "cotrained": accuracy_report(reference, class_ids[retrained], class_ids)}
    figures = {f"{name}_{key}": report[short] for name, report in reports.items()
               for key, short in (("oa", "overall_accuracy"), ("aa", "average_accuracy"), ("kappa", "kappa"))}
    return {"scene": scene_name, "seed": seed, "recipe": args.recipe, "pool": args.pool, "threshold": args.threshold,
            "cap": args.cap, "n_train": len(merged.train), "n_test": len(merged.test), "n_pseudo": len(chosen),
            "n_pseudo_labelled": int(known.sum()), "n_pseudo_on_test": int(np.isin(chosen, flat[merged.test]).sum()),
            "pseudo_accuracy_labelled": float((truth[chosen][known] - 1 == classes[known]).mean()) if known.any() else None,
            "svm_C": chosen_svm["svm_C"], "svm_gamma_x_bands": chosen_svm["svm_gamma_x_bands"], **figures,
            "seconds": seconds}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="folder laid out like ../shared/data")
    parser.add_argument("--scenes", nargs="+", default=["indian_pines"], choices=sorted(SCENES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--recipe", default="robust")
    parser.add_argument("--threshold", type=float, default=0.9, help="the network's softmax a pseudo-label needs")
    parser.add_argument("--cap", type=float, default=1.0, help="pseudo-labels per class, times its training pixels")
    parser.add_argument("--pool", choices=("scene", "unlabelled-only"), default="scene")
    parser.add_argument("--out", default="bench-out/cotraining.jsonl")
    args = parser.parse_args()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    for scene_name in args.scenes:
        loaded = SCENES[scene_name].load(args.data)
        for seed in args.seeds:
            run = measure(scene_name, seed, args, loaded)
            with open(args.out, "a") as stream:
                stream.write(json.dumps(run) + "\n")
            print(f"{scene_name} seed {seed} pool {args.pool}: network {100 * run['first_oa']:.1f}, SVM "
                  f"{100 * run['svm_oa']:.1f}, co-trained {100 * run['cotrained_oa']:.1f} OA "
                  f"({run['n_pseudo']} pseudo-labels, {run['seconds']:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
