"""Whole-scene classification speed: per-patch prediction against the fully convolutional path.

    python tests/benchmarks/bench_prediction.py --data ../shared/data

Not a test (minutes). Classifies Indian Pines, Salinas-A and a synthetic 2000 x 2000 x 200 int16
scene (generated block by block, never whole in memory) with both paths of
``core.prediction.predict_blocks`` and prints pixels per second, their ratio, peak memory and the
share of the machine's peak arithmetic rate each path reaches. Networks have random weights (speed
does not depend on them); the window is 11 and the PCA keeps 20 components, as in the paper.

Each (scene, path) runs in its own subprocess, so its peak resident memory (ru_maxrss, TensorFlow
included) is its own. Times are end to end over the blocks: reading (or generating), PCA, padding,
network, labels; the generator's own time is also reported. Before timing, each subprocess
classifies one block (the patch path a 32 x 32 piece of it: its set-up is tracing, whatever the
size) so that one-off set-up is not counted; the fully convolutional path still converts the
network and meets new tile shapes (scene edges) in the timed run, as a real run does. The peak
arithmetic rate is measured before and after the scenes and the higher figure kept.
The issue-5 targets: fully convolutional >= 5 x the patch path in pixels per second, and under
2 GB peak memory for the synthetic scene.
"""
import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))

import numpy as np  # noqa: E402

WINDOW, COMPONENTS = 11, 20
SYNTHETIC = {"height": 2000, "width": 2000, "bands": 200, "classes": 16}
#: The rows the patch path classifies on the synthetic scene (the whole scene would take about 20 minutes).
PATCH_SAMPLE_ROWS = (1000, 1024)


# -- the synthetic scene -----------------------------------------------------------------------------
def synthetic_rows(rows, cols, bands, seed=0):
    """The synthetic scene's pixels at ``rows`` x ``cols`` (ranges): a mixture of 6 smooth spectra per
    pixel plus noise, int16; each row depends on its index only, so any block (halo included) can be
    generated alone and the scene is never whole in memory."""
    spectra_rng = np.random.default_rng(seed)
    wavelengths = np.linspace(0.0, 1.0, bands)
    centres, widths = spectra_rng.uniform(0, 1, (6, 1)), spectra_rng.uniform(0.1, 0.5, (6, 1))
    spectra = 500 + 4000 * np.exp(-((wavelengths - centres) / widths) ** 2)
    noise = spectra_rng.normal(0, 30, (4093, bands))
    out = np.empty((len(rows), len(cols), bands), dtype=np.int16)
    for i, row in enumerate(rows):
        abundances = np.random.default_rng((seed, row)).dirichlet(np.ones(6), SYNTHETIC["width"])[cols]
        out[i] = abundances @ spectra + noise[(row * 31 + np.asarray(cols)) % len(noise)]
    return out


def synthetic_blocks(block_rows, block_cols, halo, rows=None, clock=None):
    """Blocks over the synthetic scene, or over its rows ``rows`` = (first, stop) with the scene's
    halos, generated on demand; the time spent generating is added to ``clock[0]``."""
    from fast3dcnn_qgis.core.blocks import Block, block_windows
    height, width, bands = SYNTHETIC["height"], SYNTHETIC["width"], SYNTHETIC["bands"]
    first, stop = rows or (0, height)
    for row, col, n_rows, n_cols, _ in block_windows(stop - first, width, block_rows, block_cols):
        row += first
        top, bottom = min(halo, row), min(halo, height - row - n_rows)
        left, right = min(halo, col), min(halo, width - col - n_cols)
        start = time.perf_counter()
        data = synthetic_rows(range(row - top, row + n_rows + bottom), range(col - left, col + n_cols + right), bands)
        if clock is not None:
            clock[0] += time.perf_counter() - start
        yield Block(row, col, data, (top, bottom, left, right))


# -- arithmetic --------------------------------------------------------------------------------------
def multiply_adds_per_pixel(window, bands, n_classes, method):
    """Multiply-adds the network needs per classified pixel: the patch path runs every layer over a
    whole S x S patch; the fully convolutional path computes each layer once per position (tile
    margins, which it recomputes, are not counted: they are part of its measured inefficiency)."""
    from fast3dcnn_qgis.core.network import CONV_LAYERS, DENSE_UNITS
    total, side, depth, channels = 0, window, bands, 1
    for filters, kernel_depth in CONV_LAYERS:
        side, depth = side - 2, depth - kernel_depth + 1
        positions = side * side if method == "patch" else 1
        total += positions * depth * 9 * kernel_depth * channels * filters
        channels = filters
    inputs = side * side * depth * channels
    for units in DENSE_UNITS + (n_classes,):
        total += inputs * units
        inputs = units
    return total


def peak_flops():
    """The best float32 matmul rate (FLOP/s) of numpy and keras.ops on this machine, now."""
    import keras
    rng = np.random.default_rng(0)
    n = 4096
    a = rng.standard_normal((n, n)).astype(np.float32)
    best = 0.0
    for matmul, x in ((np.matmul, a), (keras.ops.matmul, keras.ops.convert_to_tensor(a))):
        for _ in range(4):
            start = time.perf_counter()
            keras.ops.convert_to_numpy(matmul(x, x))
            best = max(best, 2 * n ** 3 / (time.perf_counter() - start))
    return best


# -- one measurement, in its own process -------------------------------------------------------------
def _random_classifier(reducer, band_count, n_classes, seed=0):
    import keras
    from fast3dcnn_qgis.core.classes import ClassTable
    from fast3dcnn_qgis.core.classifier import Fast3DCNNClassifier
    from fast3dcnn_qgis.core.network import build_fast3dcnn
    keras.utils.set_random_seed(seed)
    network = build_fast3dcnn(WINDOW, COMPONENTS, n_classes)
    return Fast3DCNNClassifier(reducer, network, WINDOW, ClassTable.from_ids(range(1, n_classes + 1)), band_count)


def _scene(job):
    """(classifier, blocks factory taking an optional clock, pixels) for a job's scene."""
    from fast3dcnn_qgis.core.bands import kept_bands
    from fast3dcnn_qgis.core.blocks import array_blocks
    from fast3dcnn_qgis.core.reduction import SpectralReducer
    halo, block = WINDOW // 2, job["block"]
    if job["scene"] == "synthetic":
        reducer = SpectralReducer(np.arange(SYNTHETIC["bands"]), None, COMPONENTS)
        # a light fit (every 4th pixel of 128 rows), so the set-up's memory stays below prediction's
        reducer.fit_blocks((b.data for b in synthetic_blocks(16, SYNTHETIC["width"], 0, rows=(0, 128))), 4)
        classifier = _random_classifier(reducer, SYNTHETIC["bands"], SYNTHETIC["classes"])
        rows = tuple(job["rows"]) if job.get("rows") else (0, SYNTHETIC["height"])
        return (classifier, lambda clock=None: synthetic_blocks(block, block, halo, rows, clock),
                (rows[1] - rows[0]) * SYNTHETIC["width"])
    from scenes import SCENES
    cube, labels = SCENES[job["scene"]].load(job["data"])
    reducer = SpectralReducer(kept_bands(cube.shape[2], SCENES[job["scene"]].exclude_bands), None, COMPONENTS)
    reducer.fit_blocks(b.data for b in array_blocks(cube, 64))
    classifier = _random_classifier(reducer, cube.shape[2], len(np.unique(labels[labels > 0])))
    return classifier, (lambda clock=None: array_blocks(cube, block, block, halo)), cube.shape[0] * cube.shape[1]


def measure(job):
    import resource
    from fast3dcnn_qgis.core.blocks import Block
    from fast3dcnn_qgis.core.prediction import predict_blocks
    classifier, blocks, pixels = _scene(job)
    options = {"method": job["method"], "prefetch": job.get("prefetch", False), "dtype": job.get("dtype")}
    warm = next(iter(blocks()))  # a whole block for the fast path (kernels are set up per shape)
    if job["method"] == "patch":
        warm = Block(0, 0, warm.data[:32, :32])
    for _ in predict_blocks(classifier, [warm], **options):
        pass
    ready_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    clock, done = [0.0], 0
    start = time.perf_counter()
    for block, labels, confidence, _, _ in predict_blocks(classifier, blocks(clock), **options):
        done += labels.size
    seconds = time.perf_counter() - start
    assert done == pixels, (done, pixels)
    n_classes = len(classifier.class_ids)
    return {**job, "pixels": pixels, "seconds": seconds, "generate_seconds": clock[0],
            "pixels_per_second": pixels / seconds,
            "multiply_adds_per_pixel": multiply_adds_per_pixel(WINDOW, COMPONENTS, n_classes, job["method"]),
            "ready_rss_mb": ready_rss, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def bfloat16_differences(data):
    """Largest probability difference and label agreement of mixed_bfloat16 against float32, with a
    network trained for a few epochs on Salinas-A (random weights give near-ties that say nothing)."""
    from fast3dcnn_qgis.core.blocks import array_blocks
    from fast3dcnn_qgis.core.fully_conv import fully_convolutional, tiled_probabilities
    from fast3dcnn_qgis.core.prediction import reduce_block
    from fast3dcnn_qgis.core.settings import TrainingConfig, TrainingSettings
    from fast3dcnn_qgis.core.workflow import Scene, train_classifier
    from scenes import SCENES
    scene = SCENES["salinas_a"]
    cube, labels = scene.load(data)
    settings = TrainingSettings(exclude_bands=scene.exclude_bands, split="count", split_value=50,
                                training=TrainingConfig(window=WINDOW, epochs=10))
    classifier = train_classifier(Scene(lambda: array_blocks(cube, 64), *cube.shape, labels), settings)
    padded, valid = reduce_block(classifier, next(array_blocks(cube, *cube.shape[:2])))
    single, half = (tiled_probabilities(fully_convolutional(classifier.network, dtype), padded, WINDOW)[valid]
                    for dtype in (None, "mixed_bfloat16"))
    return {"test_accuracy": classifier.record.accuracy["overall_accuracy"],
            "max_probability_difference": float(np.abs(single - half).max()),
            "label_agreement": float((single.argmax(-1) == half.argmax(-1)).mean())}


def in_subprocess(job):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, __file__, "--job", json.dumps(job)], env=env,
                          capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{job} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- the report --------------------------------------------------------------------------------------
def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="folder laid out like ../shared/data (Indian Pines, Salinas-A)")
    parser.add_argument("--block", type=int, default=256, help="block side in pixels (default 256)")
    parser.add_argument("--scenes", default="indian_pines,salinas_a,synthetic")
    parser.add_argument("--bfloat16", action="store_true", help="also time the fully convolutional path in "
                                                                 "mixed_bfloat16 and compare its output")
    parser.add_argument("--prefetch", action="store_true", help="also time prefetching the next block in a thread")
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument("--job", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.job:
        job = json.loads(args.job)
        print(json.dumps(peak_flops() if job == "peak" else bfloat16_differences(job["data"])
                         if job.get("bfloat16_check") else measure(job)))
        return

    peak = in_subprocess("peak")
    print(f"peak float32 matmul rate: {peak / 1e9:.0f} GFLOP/s (best of numpy and keras.ops, 4096 x 4096); "
          f"{os.cpu_count()} CPUs, shared with other work: figures may be depressed")
    print(f"{'scene':13s} {'path':36s} {'pixels':>8s} {'seconds':>8s} {'px/s':>7s} {'ratio':>6s} {'MMAC/px':>8s} "
          f"{'%peak':>6s} {'RSS MB':>7s} {'(set-up)':>8s} {'generating s':>12s}")
    results, notes = [], []
    for scene in args.scenes.split(","):
        base = {"scene": scene, "data": args.data, "block": args.block}
        runs = {"patch": dict(base, method="patch"), "fully_convolutional": dict(base, method="fully_convolutional")}
        if scene == "synthetic":
            runs["patch"]["rows"] = PATCH_SAMPLE_ROWS
        if args.prefetch:
            runs["fully_convolutional, prefetch"] = dict(runs["fully_convolutional"], prefetch=True)
        if args.bfloat16 and scene != "synthetic":
            runs["fully_convolutional, mixed_bfloat16"] = dict(runs["fully_convolutional"], dtype="mixed_bfloat16")
        measured = {name: in_subprocess(job) for name, job in runs.items()}
        for name, m in measured.items():
            m.update(name=name, flops=2 * m["multiply_adds_per_pixel"] * m["pixels_per_second"],
                     ratio=m["pixels_per_second"] / measured["patch"]["pixels_per_second"])
            print(f"{scene:13s} {name:36s} {m['pixels']:8d} {m['seconds']:8.1f} {m['pixels_per_second']:7.0f} "
                  f"{m['ratio']:6.1f} {m['multiply_adds_per_pixel'] / 1e6:8.2f} {100 * m['flops'] / peak:6.1f} "
                  f"{m['peak_rss_mb']:7.0f} {m['ready_rss_mb']:8.0f} {m['generate_seconds']:12.1f}")
            if m.get("rows"):
                pixels = SYNTHETIC["height"] * SYNTHETIC["width"]
                notes.append(f"{scene} {name}: measured on rows {m['rows'][0]}-{m['rows'][1] - 1} only; the whole "
                             f"scene extrapolates to {pixels / m['pixels_per_second'] / 60:.0f} min "
                             f"(peak RSS is the sample's)")
            results.append(m)
    for note in notes:
        print(note)
    print("seconds and px/s are end to end (generating or reading, PCA, padding, network, labels); "
          "%peak counts the multiply-adds each path needs, RSS is the subprocess's peak (TensorFlow "
          "included), set-up its peak after warming up")
    peak_after = in_subprocess("peak")
    if peak_after > 1.05 * peak:
        print(f"peak rate measured again after the scenes: {peak_after / 1e9:.0f} GFLOP/s: scale the %peak "
              f"above by {peak / peak_after:.2f}")
    peak = max(peak, peak_after)
    for result in results:
        result["fraction_of_peak"] = result["flops"] / peak
    figures = {"peak_flops": peak, "results": results}
    if args.bfloat16 and args.data:
        figures["bfloat16"] = check = in_subprocess({"bfloat16_check": True, "data": args.data})
        print(f"mixed_bfloat16 against float32, Salinas-A network trained 10 epochs (test OA "
              f"{100 * check['test_accuracy']:.1f}%): largest probability difference "
              f"{check['max_probability_difference']:.2g}, same label at {100 * check['label_agreement']:.2f}% "
              f"of pixels")
    if args.json:
        with open(args.json, "w") as stream:
            json.dump(figures, stream, indent=2)


if __name__ == "__main__":
    main()
