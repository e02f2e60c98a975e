"""A scene larger than memory through the classify algorithm (issue 6): peak memory and progress.

    python tests/benchmarks/bench_large_scene.py FOLDER [--size 3000] [--bands 200]

Not a test (about 10 minutes on 2 cores, and FOLDER needs size x size x bands x 2 bytes: 3.6 GB for
the default 3000 x 3000 x 200 int16). Writes a synthetic GeoTIFF block by block (never whole in
memory) and a model with random weights built by the core (speed and memory do not depend on the
weights), then, in a fresh process that starts QGIS as a user's would, classifies the scene with
``fast3dcnn:classify`` through the Processing API, printing the progress as it moves and the peak
resident memory (ru_maxrss, TensorFlow included). The issue-6 target is under 2 GB.
"""
import argparse
import os
import resource
import subprocess
import sys
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

WINDOW, COMPONENTS, CLASSES = 11, 20, 8
ROWS_PER_WRITE = 64


def scene_rows(first, n_rows, width, bands):
    """Rows ``first``..``first + n_rows`` of the synthetic scene: fields of 8 spectra in 100-pixel
    squares, plus noise; each row depends only on its index."""
    wavelengths = np.linspace(0.0, 1.0, bands)
    rng = np.random.default_rng(0)
    spectra = 500 + 4000 * np.exp(-((wavelengths - rng.uniform(0, 1, (CLASSES, 1))) / 0.3) ** 2)
    rows = np.arange(first, first + n_rows)[:, None]
    fields = ((rows // 100) * 7 + np.arange(width)[None, :] // 100) % CLASSES
    noise = np.random.default_rng(first).normal(0, 40, (n_rows, width, bands)).astype(np.float32)
    return (spectra[fields].astype(np.float32) + noise).astype(np.int16)


def write_scene(path, size, bands):
    from osgeo import gdal
    out = gdal.GetDriverByName("GTiff").Create(path + ".part", size, size, bands, gdal.GDT_Int16,
                                               ["TILED=YES", "INTERLEAVE=PIXEL", "BIGTIFF=YES"])
    out.SetGeoTransform((600000.0, 1.0, 0.0, 4000000.0, 0.0, -1.0))
    start = time.perf_counter()
    for row in range(0, size, ROWS_PER_WRITE):
        n_rows = min(ROWS_PER_WRITE, size - row)
        block = scene_rows(row, n_rows, size, bands)
        out.WriteRaster(0, row, size, n_rows, np.ascontiguousarray(np.moveaxis(block, -1, 0)).tobytes(),
                        band_list=list(range(1, bands + 1)))
        print(f"  writing: {100 * (row + n_rows) / size:5.1f}%", end="\r", flush=True)
    out = None
    os.replace(path + ".part", path)
    print(f"\nwrote {path}: {os.path.getsize(path) / 2 ** 30:.2f} GiB in {time.perf_counter() - start:.0f} s")


def write_model(path, size, bands):
    from fast3dcnn_qgis.core.classes import ClassTable
    from fast3dcnn_qgis.core.classifier import Fast3DCNNClassifier
    from fast3dcnn_qgis.core.modelfile import save_classifier
    from fast3dcnn_qgis.core.network import build_fast3dcnn
    from fast3dcnn_qgis.core.reduction import SpectralReducer
    reducer = SpectralReducer(np.arange(bands), None, COMPONENTS)
    reducer.fit_blocks([scene_rows(row, 16, size, bands)[::4, ::4] for row in range(0, size, size // 8)])
    network = build_fast3dcnn(WINDOW, COMPONENTS, CLASSES)
    classes = ClassTable.from_ids(range(1, CLASSES + 1))
    save_classifier(Fast3DCNNClassifier(reducer, network, WINDOW, classes, bands), path)


def classify(scene, model, output):
    """In this process: QGIS, Processing, the plugin's provider, then one classify run."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import tests.plugin.qgis_session  # noqa: F401  (QGIS before TensorFlow, as in QGIS itself)
    import processing
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback

    start = time.perf_counter()
    feedback = QgsProcessingFeedback()
    shown = [-10.0]

    def show(percent):
        if percent - shown[0] >= 5 or percent >= 100:
            shown[0] = percent
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20
            print(f"  {time.perf_counter() - start:6.0f} s  {percent:5.1f}%  peak {peak:.2f} GiB", flush=True)

    feedback.progressChanged.connect(show)
    processing.run("fast3dcnn:classify", {"INPUT": scene, "MODEL": model, "OUTPUT": output},
                   context=QgsProcessingContext(), feedback=feedback)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20
    pixels = int(os.path.basename(scene).split("x")[0]) ** 2
    print(f"classified in {seconds:.0f} s ({pixels / seconds:,.0f} pixels/s); peak resident memory "
          f"{peak:.2f} GiB (target < 2 GiB)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder")
    parser.add_argument("--size", type=int, default=3000)
    parser.add_argument("--bands", type=int, default=200)
    parser.add_argument("--classify", nargs=3, metavar=("SCENE", "MODEL", "OUTPUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.classify:
        return classify(*args.classify)
    scene, model = prepared_scene(args.folder, args.size, args.bands)
    subprocess.run([sys.executable, os.path.abspath(__file__), args.folder, "--classify", scene, model,
                    os.path.join(args.folder, "classes.tif")], check=True, cwd=ROOT)


def prepared_scene(folder, size, bands):
    """(scene, model) paths in ``folder``: the synthetic scene and its random-weight model, written
    the first time."""
    os.makedirs(folder, exist_ok=True)
    scene = os.path.join(folder, f"{size}x{size}x{bands}.tif")
    model = os.path.join(folder, f"random_{bands}.f3dcnn")
    if not os.path.exists(scene):
        write_scene(scene, size, bands)
    if not os.path.exists(model):
        _in_subprocess(write_model, model, size, bands)
    return scene, model


def _in_subprocess(function, *arguments):
    """Runs ``function`` in a child process so that its memory (TensorFlow) is not counted here."""
    import multiprocessing
    child = multiprocessing.get_context("spawn").Process(target=function, args=arguments)
    child.start()
    child.join()
    if child.exitcode:
        sys.exit(f"{function.__name__} failed")


if __name__ == "__main__":
    main()
