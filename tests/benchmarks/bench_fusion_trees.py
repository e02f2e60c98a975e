"""How many of the forest's trees the fused map needs: the default model's fusion with its first k trees.

    python tests/benchmarks/bench_fusion_trees.py --data ../shared/data [--cases ...] [--seeds 0 1 2]

The forest's walk is what a fused map costs (bench_fusion_cost.py: 0.6 times the network alone's pixels
per second in bfloat16), and it grows with the trees. For the new-ground cases of bench_new_ground.py
(the same loaders, split and scoring), trains the default model and scores, on the same held-out pixels,
the network alone and its fusion with the first k trees of its forest for each ``--trees``. Prints OA per
case and k, mean over the seeds. A forest's first k trees are a forest of k trees of the same seed
(scikit-learn draws each tree's sample and splits in turn). Not a test.
"""
import argparse
import os
import sys

from dataclasses import replace

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_new_ground import CASES, map_probabilities, settings_for, tile_blocks, trained, workflow_pixels  # noqa: E402
from fast3dcnn_qgis.core.bands import kept_bands  # noqa: E402
from fast3dcnn_qgis.core.blocks import array_blocks  # noqa: E402
from fast3dcnn_qgis.core.forest import ARRAYS, PixelForest, fused_probabilities  # noqa: E402


def first_trees(forest, k):
    """The forest of the first ``k`` trees of ``forest``."""
    nodes = int(forest.node_counts[:k].sum())
    arrays = forest.to_arrays()
    return PixelForest(*(arrays[name][:k] if name in ("node_counts", "depths") else arrays[name][:nodes]
                         for name in ARRAYS))


def held_out(name, loaded, classifier, settings):
    """(reference labels, the network's probabilities, raw spectra of the kept bands) of the case's
    held-out pixels, as bench_new_ground scores them."""
    alone, halo = replace(classifier, forest=None, svm=None, smoothing_radius=0, class_weights=None), classifier.window // 2
    if name == "potsdam_tiles":
        network = map_probabilities(alone, tile_blocks(loaded, halo), loaded.canvas.shape[:2])
        rows, cols = np.nonzero((loaded.test_labels != 0) & (network[..., 0] >= 0))
        spectra = loaded.canvas[rows, cols][:, kept_bands(loaded.canvas.shape[2], settings.exclude_bands)]
        return loaded.test_labels[rows, cols], network[rows, cols], spectra
    pixels, rows, cols = workflow_pixels(loaded, settings, classifier.record)
    test = pixels.test
    network = map_probabilities(alone, array_blocks(loaded.cube, 64, halo=halo), loaded.cube.shape[:2])
    return pixels.labels[test], network[rows[test], cols[test]], pixels.of(test)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--cases", nargs="+", default=["potsdam_tiles", "salinas_a_disjoint", "indian_pines_disjoint"],
                        choices=list(CASES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--trees", type=int, nargs="+", default=[10, 25, 50, 100])
    arguments = parser.parse_args()
    for name in arguments.cases:
        case = CASES[name]
        loaded = case.load(arguments.data)
        scores = {k: [] for k in ["alone", *arguments.trees]}
        for seed in arguments.seeds:
            settings = settings_for(case, loaded, seed, None)
            classifier, _ = trained(loaded.ground.scene if name == "potsdam_tiles" else loaded.scene, settings)
            reference, network, spectra = held_out(name, loaded, classifier, settings)
            class_ids = np.asarray(classifier.class_ids)
            scores["alone"].append(np.mean(class_ids[network.argmax(axis=-1)] == reference))
            for k in arguments.trees:
                forest = first_trees(classifier.forest, k).probabilities(spectra)
                scores[k].append(np.mean(class_ids[fused_probabilities(network, forest).argmax(axis=-1)] == reference))
            recorded = classifier.record.accuracy["overall_accuracy"]
            print(f"{name} seed {seed}: " + "  ".join(f"{k}: {100 * v[-1]:.2f}" for k, v in scores.items())
                  + f"  (the record's fused OA, on the workflow's own test pixels: {100 * recorded:.2f})", flush=True)
        print(f"{name} mean OA: " + "  ".join(f"{k}: {100 * np.mean(v):.2f}" for k, v in scores.items()), flush=True)


if __name__ == "__main__":
    main()
