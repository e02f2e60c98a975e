"""From the analyst's click to the model: the whole ``qgis_process run fast3dcnn:train`` call on Indian Pines
(QGIS's start-up, reading, PCA, baselines, training, test, model and report) against the author-style
script (``../shared/baselines/author_style.py`` with ``SCALE=1``: all patches in memory, 50 epochs,
float32; its ``t_pca + t_patch + t_train``), run in turn on the same machine.

    python tests/benchmarks/bench_end_to_end.py --data ../shared/data --runs 3

Each round runs every variant once, in turn, so that the machine's drift falls on all alike:

- ``author``: ``SCALE=1 author_style.py DATA 11 50`` in this Python (which has Keras);
- ``paper``: ``fast3dcnn:train`` with ``SPLIT`` paper and ``COTRAINING`` off, every other setting its
  default (issue 30's measure);
- ``no_baselines``: the same without the SVM and forest baselines (issue 30: they may add 3 s at most);
- ``defaults`` and ``no_rounds``: every default (the held-out split and its co-training rounds), and
  the same with ``COTRAINING`` off (issue 29 bounds the first at twice the second);
- ``no_map_steps``: every default but ``FUSION``, ``SMOOTHING`` and ``BALANCE`` off: what the map's steps
  after the network (the SVM's calibration, the test pixels' neighbourhood classified and read once more)
  add to the default run.

It prints each run's seconds and test OA, then per variant the mean and the ratios. The plugin is staged
from this checkout into a fresh QGIS profile (``scripts/package.py --stage``), and Indian Pines' .mat
files are written as GeoTIFFs first, outside the timings. Runs are appended to --out (JSON lines).
Not a test: a round takes about 6 minutes on 2 cores.
"""
import argparse
import json
import os
import subprocess
import sys
import sysconfig
import tempfile
import time

import numpy as np
import scipy.io

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_training import machine  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
#: The fast3dcnn:train parameters of each variant beyond the scene's (enums by index: SPLIT 0 is
#: paper, COTRAINING 2 off; FUSION, SMOOTHING and BALANCE 2 off).
VARIANTS = {"paper": {"SPLIT": 0, "COTRAINING": 2}, "no_baselines": {"SPLIT": 0, "COTRAINING": 2, "BASELINE": False},
            "defaults": {}, "no_rounds": {"COTRAINING": 2},
            "no_map_steps": {"FUSION": 2, "SMOOTHING": 2, "BALANCE": 2}}
RATIOS = (("author", "paper", "training end to end, author-style script / qgis_process (goal >= 4)"),
          ("defaults", "no_rounds", "the default run / the same without co-training rounds (goal <= 2)"))
DIFFERENCES = (("paper", "no_baselines", "what the SVM and forest baselines add (goal <= 3 s)"),
               ("defaults", "no_map_steps", "what fusion, smoothing and weighting add to the default run"))


def write_scene(data, folder):
    """Indian Pines' cube and labels as GeoTIFFs in ``folder``: what an analyst brings to QGIS."""
    from osgeo import gdal
    gdal.UseExceptions()
    source = os.path.join(data, "indian_pines")
    cube = scipy.io.loadmat(os.path.join(source, "Indian_pines_corrected.mat"))["indian_pines_corrected"]
    labels = scipy.io.loadmat(os.path.join(source, "Indian_pines_gt.mat"))["indian_pines_gt"]
    paths = []
    for name, array in (("indian_pines.tif", cube), ("indian_pines_gt.tif", labels[..., None])):
        path = os.path.join(folder, name)
        dataset = gdal.GetDriverByName("GTiff").Create(path, array.shape[1], array.shape[0], array.shape[2],
                                                       gdal.GDT_Int16 if array.dtype.kind == "i" else gdal.GDT_UInt16)
        for band in range(array.shape[2]):
            dataset.GetRasterBand(band + 1).WriteArray(array[..., band])
        dataset = None
        paths.append(path)
    return paths


def qgis_profile(qgis_process, folder):
    """The environment of a qgis_process with this checkout's plugin enabled in a fresh profile."""
    plugins = os.path.join(folder, "profiles", "default", "python", "plugins")
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "package.py"), "--stage", plugins], check=True,
                   capture_output=True)
    env = dict(os.environ, QGIS_CUSTOM_CONFIG_PATH=folder, QT_QPA_PLATFORM="offscreen", TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONPATH=sysconfig.get_paths()["purelib"])
    subprocess.run([qgis_process, "plugins", "enable", "fast3dcnn_qgis"], env=env, check=True, capture_output=True)
    return env


def run_train(qgis_process, env, scene, folder, window, parameters):
    """Seconds of the whole qgis_process call, and the test OA it reported."""
    arguments = {"INPUT": scene[0], "GROUND_TRUTH": scene[1], "WINDOW_SIZE": window, **parameters,
                 "OUTPUT_MODEL": os.path.join(folder, "model.f3dcnn"), "OUTPUT_REPORT": os.path.join(folder, "report.html")}
    start = time.perf_counter()
    done = subprocess.run([qgis_process, "--json", "run", "fast3dcnn:train", "--",
                           *(f"{key}={value}" for key, value in arguments.items())],
                          env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise RuntimeError(f"qgis_process failed: {done.stderr[-2000:]}")
    return seconds, json.loads(done.stdout)["results"]["OVERALL_ACCURACY"]


def run_author(script, data, window):
    """The author-style script's end-to-end training seconds (t_pca + t_patch + t_train) and test OA."""
    done = subprocess.run([sys.executable, script, data, str(window), "50"], env=dict(os.environ, SCALE="1"),
                          capture_output=True, text=True, check=True)
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return figures["t_pca"] + figures["t_patch"] + figures["t_train"], figures["OA"] / 100


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="the shared data folder (holds indian_pines/)")
    parser.add_argument("--author", help="author_style.py (default: baselines/ beside the data folder)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--window", type=int, default=11)
    parser.add_argument("--variants", nargs="+", default=["author", *VARIANTS], choices=["author", *VARIANTS])
    parser.add_argument("--qgis-process", default="/usr/bin/qgis_process.bin")
    parser.add_argument("--out", default=os.path.join(ROOT, "tests", "benchmarks", "results", "end_to_end.jsonl"))
    arguments = parser.parse_args()
    data = os.path.abspath(arguments.data)
    author = arguments.author or os.path.join(os.path.dirname(data), "baselines", "author_style.py")
    processor = machine()
    print(f"Indian Pines, S = {arguments.window}, {processor}")
    times: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="f3dcnn-e2e-") as folder:
        scene = write_scene(data, folder)
        env = qgis_profile(arguments.qgis_process, os.path.join(folder, "profile"))
        for run in range(arguments.runs):
            for variant in arguments.variants:
                if variant == "author":
                    seconds, oa = run_author(author, data, arguments.window)
                else:
                    seconds, oa = run_train(arguments.qgis_process, env, scene, folder, arguments.window,
                                            VARIANTS[variant])
                times.setdefault(variant, []).append(seconds)
                print(f"run {run}  {variant:12s} {seconds:7.1f} s  OA {100 * oa:.2f}%", flush=True)
                with open(arguments.out, "a", encoding="utf-8") as stream:
                    stream.write(json.dumps({"variant": variant, "run": run, "seconds": round(seconds, 2),
                                             "oa": oa, "window": arguments.window, "machine": processor,
                                             "date": time.strftime("%Y-%m-%d")}) + "\n")
    means = {variant: float(np.mean(values)) for variant, values in times.items()}
    for variant, mean in means.items():
        print(f"{variant:12s} mean {mean:7.1f} s over {len(times[variant])} runs")
    for slow, fast, what in RATIOS:
        if slow in means and fast in means:
            print(f"{means[slow] / means[fast]:.2f}x  {what}")
    for slow, fast, what in DIFFERENCES:
        if slow in means and fast in means:
            print(f"{means[slow] - means[fast]:+.1f} s  {what}")


if __name__ == "__main__":
    main()
