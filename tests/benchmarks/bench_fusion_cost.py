"""What fusing the map with the model's random forest and SVM costs a whole-scene classification.

    python tests/benchmarks/bench_fusion_cost.py --data ../shared/data [--repeat 7] [--runs 2]

Trains the plugin's default model on Indian Pines (S = 11, seed 0: the disjoint split, so the model
keeps its forest of 100 trees and its SVM fitted on real spectra), tiles the scene ``--repeat`` times each
way (7: 1015 x 1015 pixels of real spectra, so the trees walk as deep as on real ground), and times
core.prediction.predict_blocks over it in 256 x 256 blocks, as classify reads them, with the network alone,
fused with the forest alone (a model of format 5) and with the forest and the SVM (the same network,
smoothing and class weights), in each arithmetic ``PRECISION`` offers on this machine, in turn, ``--runs``
times. Prints pixels per second, the ratios, and how many labels the SVM changed. In process: QGIS's
start-up and the GeoTIFF reading, the same either way, are not in these figures. Not a test.
"""
import argparse
import os
import sys
import time
from dataclasses import replace

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from fast3dcnn_qgis.core.blocks import array_blocks  # noqa: E402
from fast3dcnn_qgis.core.precision import training_dtype  # noqa: E402
from fast3dcnn_qgis.core.prediction import predict_blocks  # noqa: E402
from fast3dcnn_qgis.core.scene import Scene  # noqa: E402
from fast3dcnn_qgis.core.settings import TrainingConfig, TrainingSettings  # noqa: E402
from fast3dcnn_qgis.core.workflow import train_classifier  # noqa: E402
from bench_training import machine  # noqa: E402
from scenes import SCENES  # noqa: E402


def timed_map(classifier, cube, dtype):
    """(pixels per second, labels) of the map of ``cube`` in 256 x 256 blocks."""
    labels = np.zeros(cube.shape[:2], dtype=np.int32)
    start = time.perf_counter()
    for prediction in predict_blocks(classifier, array_blocks(cube, 256, 256, halo=classifier.halo),
                                     dtype=None if dtype == "float32" else dtype):
        rows, cols = prediction.block.shape
        labels[prediction.block.row:prediction.block.row + rows,
               prediction.block.col:prediction.block.col + cols] = prediction.labels
    return labels.size / (time.perf_counter() - start), labels


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--runs", type=int, default=2)
    arguments = parser.parse_args()
    print(machine())
    cube, labels = SCENES["indian_pines"].load(arguments.data)
    settings = TrainingSettings(training=TrainingConfig(window=11, seed=0))
    fused = train_classifier(Scene(lambda: array_blocks(cube, 64), *cube.shape, labels), settings)
    if fused.forest is None or fused.svm is None:
        raise SystemExit("the default model of Indian Pines kept no forest and SVM: is FUSION still auto by default?")
    alone, forest = replace(fused, forest=None, svm=None), replace(fused, svm=None)
    scene = np.ascontiguousarray(np.tile(cube, (arguments.repeat, arguments.repeat, 1)))
    print(f"Indian Pines x {arguments.repeat}: {scene.shape[0]} x {scene.shape[1]} x {scene.shape[2]}; "
          f"test OA {100 * fused.record.accuracy['overall_accuracy']:.2f}% fused, "
          f"{100 * fused.record.fusion['network_accuracy']['overall_accuracy']:.2f}% the network alone; "
          f"forest of {fused.forest.n_trees} trees, {len(fused.forest.features):,} nodes; SVM of "
          f"{fused.svm.n_support_vectors:,} support vectors")
    for dtype in dict.fromkeys(("float32", training_dtype("auto"))):
        timed_map(alone, scene[:300, :300], dtype)  # warm-up: the network's graph is traced once per shape
        for run in range(arguments.runs):
            rate_alone, _ = timed_map(alone, scene, dtype)
            rate_forest, map_forest = timed_map(forest, scene, dtype)
            rate_fused, map_fused = timed_map(fused, scene, dtype)
            print(f"run {run}  {dtype:15s} network alone {rate_alone:8,.0f} px/s  with the forest "
                  f"{rate_forest:8,.0f} px/s  with the forest and the SVM {rate_fused:8,.0f} px/s  fused / alone "
                  f"{rate_fused / rate_alone:.2f}  fused / forest alone {rate_fused / rate_forest:.2f}  labels "
                  f"changed by the SVM {100 * (map_forest != map_fused).mean():.1f}%", flush=True)


if __name__ == "__main__":
    main()
