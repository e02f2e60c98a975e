"""How close whole-scene classification comes to what this machine's arithmetic allows.

    python tests/benchmarks/bench_ceiling.py FOLDER [--size 1000] [--bands 200] [--runs 2]

Measures the peak matrix-multiply rate through TensorFlow (oneDNN), as Keras computes it, in float32
and in bfloat16 (4096 x 4096, best of 5 after a warm-up), then classifies bench_large_scene.py's
synthetic scene (written to FOLDER the first time, with its random-weight model) through the whole
``qgis_process run fast3dcnn:classify`` call, QGIS's start-up included, once with each ``PRECISION``
(auto, float32) per run. For each it prints pixels per second, the call's peak resident memory and the
arithmetic that rate does: the fully convolutional network's multiply-adds per pixel (bench_prediction.py
counts them) times two, as a share of the peak rate of the arithmetic the run used (auto's line says
which). Each run also times the per-patch path (bench_prediction.py's: the plugin's patches, vectorised; on 24
rows of its synthetic scene of the same width and bands) and prints how many times faster each classify
call was (issue 30: at least 10x, under 1.5 GB). With ``--seed COMMIT`` each run first times that
commit's own classify through qgis_process on the same scene, with a model its own code wrote (the
same network shape, random weights): eb6bb3c is the last before fully convolutional prediction, per
patch in float32, the seed-style classify issue 30 measures against (about 2 minutes a call on 2
cores). docs/benchmarks.md quotes the figures. Not a test: about 6 minutes on 2 cores, 10 with
``--seed``.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_end_to_end import ROOT, qgis_profile  # noqa: E402
from bench_large_scene import CLASSES, COMPONENTS, WINDOW, prepared_scene  # noqa: E402
from bench_prediction import SYNTHETIC, in_subprocess, multiply_adds_per_pixel  # noqa: E402
from bench_training import machine  # noqa: E402

#: PRECISION's options by index, as qgis_process takes them (settings.PRECISIONS).
PRECISION_INDEX = {"auto": 0, "float32": 1}


def gemm_rate(dtype, n=4096, repeats=5):
    """The best rate (FLOP/s) of an n x n matrix product in ``dtype`` through keras.ops (TensorFlow)."""
    import keras
    import numpy as np
    a = keras.ops.cast(keras.ops.convert_to_tensor(np.random.default_rng(0).standard_normal((n, n))), dtype)
    keras.ops.convert_to_numpy(keras.ops.matmul(a, a))  # warm-up: oneDNN picks and builds its kernel
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        keras.ops.convert_to_numpy(keras.ops.matmul(a, a))
        best = max(best, 2 * n ** 3 / (time.perf_counter() - start))
    return best


def classify_seconds(qgis_process, env, scene, model, output, precision=None):
    """Seconds and peak resident memory (MB) of the whole qgis_process classify call, and the
    arithmetic line it logged (``precision`` None: the parameter left out, for a plugin without it)."""
    with tempfile.TemporaryFile("w+") as log:
        start = time.perf_counter()
        process = subprocess.Popen([qgis_process, "run", "fast3dcnn:classify", "--", f"INPUT={scene}",
                                    f"MODEL={model}", f"OUTPUT={output}",
                                    *([] if precision is None else [f"PRECISION={PRECISION_INDEX[precision]}"])],
                                   env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
        _, status, usage = os.wait4(process.pid, 0)  # this child's own peak, which Popen.wait would not give
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        output_text = log.read()
    if process.returncode:
        raise RuntimeError(f"qgis_process failed: {output_text[-2000:]}")
    arithmetic = next((line.strip() for line in output_text.splitlines() if "rithmetic" in line), "")
    return seconds, usage.ru_maxrss / 1024, arithmetic


#: The seed's model: bench_large_scene's reducer and network, through the seed's own classes.
SEED_MODEL = """import sys, numpy as np
sys.path[:0] = {path!r}
from fast3dcnn_qgis.core.classifier import Fast3DCNNClassifier
from fast3dcnn_qgis.core.modelfile import save_classifier
from fast3dcnn_qgis.core.network import build_fast3dcnn
from fast3dcnn_qgis.core.reduction import SpectralReducer
from bench_large_scene import scene_rows
reducer = SpectralReducer(np.arange({bands}), None, {components})
reducer.fit_blocks([scene_rows(row, 16, {size}, {bands})[::4, ::4] for row in range(0, {size}, {step})])
network = build_fast3dcnn({window}, {components}, {classes})
save_classifier(Fast3DCNNClassifier(reducer, network, {window}, np.arange(1, {classes} + 1), {bands}), {model!r})
"""


def seed_plugin(qgis_process, commit, size, bands, folder):
    """(environment, model) of ``commit``'s plugin in a fresh profile under ``folder``, and a model of
    bench_large_scene's shape written by that commit's own code: its model files differ from today's."""
    tree = os.path.join(folder, "seed_tree")
    os.makedirs(tree)
    archive = subprocess.run(["git", "-C", ROOT, "archive", commit], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", tree], input=archive, check=True)
    env = qgis_profile(qgis_process, os.path.join(folder, "seed_profile"))
    plugins = os.path.join(folder, "seed_profile", "profiles", "default", "python", "plugins")
    shutil.rmtree(os.path.join(plugins, "fast3dcnn_qgis"))
    packaged = subprocess.run([sys.executable, os.path.join(tree, "scripts", "package.py"), "--output", folder],
                              check=True, capture_output=True, text=True, cwd=tree).stdout
    with zipfile.ZipFile(os.path.join(tree, packaged.split(":")[0].strip())) as package:  # relative to its cwd
        package.extractall(plugins)
    model = os.path.join(folder, "seed.f3dcnn")
    code = SEED_MODEL.format(path=[tree, os.path.dirname(os.path.abspath(__file__))], bands=bands, size=size,
                             step=size // 8, components=COMPONENTS, window=WINDOW, classes=CLASSES, model=model)
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tree)
    return env, model


def per_patch_rate(bands):
    """Pixels per second of the per-patch path on 24 rows of bench_prediction's synthetic scene, which
    has the same window, components and (checked) bands: what the patch path's speed depends on."""
    if bands != SYNTHETIC["bands"]:
        raise SystemExit(f"the per-patch path is timed on a scene of {SYNTHETIC['bands']} bands: leave --bands")
    return in_subprocess({"scene": "synthetic", "method": "patch", "block": 256, "rows": [1000, 1024]})[
        "pixels_per_second"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="where the synthetic scene and model are kept")
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--bands", type=int, default=200)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--qgis-process", default="/usr/bin/qgis_process.bin")
    parser.add_argument("--seed", metavar="COMMIT", help="also time this commit's classify (eb6bb3c: the seed's)")
    arguments = parser.parse_args()
    rates = {dtype: gemm_rate(dtype) for dtype in ("float32", "bfloat16")}
    print(machine())
    for dtype, rate in rates.items():
        print(f"peak {dtype} matmul (TensorFlow/oneDNN, 4096 x 4096): {rate / 1e9:,.0f} GFLOP/s")
    scene, model = prepared_scene(arguments.folder, arguments.size, arguments.bands)
    flops_per_pixel = 2 * multiply_adds_per_pixel(WINDOW, COMPONENTS, CLASSES, "fully")
    pixels = arguments.size ** 2
    print(f"{flops_per_pixel / 2e6:.2f} M multiply-adds per pixel: ceilings "
          + ", ".join(f"{dtype} {rate / flops_per_pixel:,.0f} px/s" for dtype, rate in rates.items()))
    with tempfile.TemporaryDirectory(prefix="f3dcnn-ceiling-") as folder:
        env = qgis_profile(arguments.qgis_process, os.path.join(folder, "profile"))
        if arguments.seed:
            seed_env, seed_model = seed_plugin(arguments.qgis_process, arguments.seed, arguments.size,
                                               arguments.bands, folder)
        for run in range(arguments.runs):
            patch = per_patch_rate(arguments.bands)
            print(f"run {run}  per-patch path (patches)      {patch:8,.0f} px/s", flush=True)
            if arguments.seed:
                seconds, peak, _ = classify_seconds(arguments.qgis_process, seed_env, scene, seed_model,
                                                    os.path.join(folder, "map_seed.tif"))
                seed_rate = pixels / seconds
                print(f"run {run}  {arguments.seed}'s classify   {seconds:6.1f} s  {seed_rate:8,.0f} px/s  "
                      f"peak {peak:,.0f} MB", flush=True)
            for precision in PRECISION_INDEX:
                seconds, peak, arithmetic = classify_seconds(arguments.qgis_process, env, scene, model,
                                                             os.path.join(folder, f"map_{precision}.tif"), precision)
                dtype = "bfloat16" if "bfloat16" in arithmetic else "float32"
                rate = pixels / seconds
                print(f"run {run}  PRECISION {precision:8s} {seconds:6.1f} s  {rate:8,.0f} px/s  "
                      f"{rate / patch:5.1f}x per-patch  "
                      + (f"{rate / seed_rate:5.1f}x {arguments.seed}'s  " if arguments.seed else "")
                      + f"peak {peak:,.0f} MB  "
                      f"{100 * rate * flops_per_pixel / rates[dtype]:5.1f}% of the {dtype} peak  ({arithmetic})",
                      flush=True)


if __name__ == "__main__":
    main()
