"""Classifying on a Dask cluster (fast3dcnn_qgis.cluster): the same maps as fast3dcnn:classify on a
local cluster of two worker processes and on a scheduler with two workers started as separate
processes, with qgis made unimportable; a lost worker, an unreachable scheduler and a bad input;
and classify's SCHEDULER parameter."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import processing
import pytest
from osgeo import gdal

import helpers

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DASK = os.path.join(os.path.dirname(sys.executable), "dask")

# A trained model, and Dask schedulers and workers in subprocess Pythons that import Keras.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def scene(salinas, tmp_path_factory):
    """A model trained on Salinas-A, the scene and a crop of it, and their maps from fast3dcnn:classify."""
    folder = tmp_path_factory.mktemp("cluster")
    cube, crop = str(folder / "cube.tif"), str(folder / "crop.tif")
    gdal.Translate(cube, str(salinas[0]))
    gdal.Translate(crop, cube, srcWin=[20, 10, 50, 60])
    model = processing.run("fast3dcnn:train", {
        "INPUT": cube, "GROUND_TRUTH": str(salinas[1]), "EPOCHS": 1, "WINDOW_SIZE": 9,
        "BANDS": "108-112,154-167,224", "OUTPUT_MODEL": str(folder / "m.f3dcnn"),
        "OUTPUT_REPORT": str(folder / "r.html")})["OUTPUT_MODEL"]
    expected = {}
    for path in (cube, crop):
        out = processing.run("fast3dcnn:classify", {
            "INPUT": path, "MODEL": model, "OUTPUT": str(folder / f"expected_{os.path.basename(path)}"),
            "OUTPUT_CONFIDENCE": str(folder / f"expected_confidence_{os.path.basename(path)}")})
        expected[path] = helpers.read(out["OUTPUT"]), helpers.read(out["OUTPUT_CONFIDENCE"])
    return folder, model, expected


@pytest.fixture(scope="module")
def without_qgis(tmp_path_factory):
    """An environment in which ``import qgis`` fails, in the command and in every worker it starts."""
    folder = tmp_path_factory.mktemp("noqgis")
    (folder / "qgis").mkdir()
    (folder / "qgis" / "__init__.py").write_text("raise ImportError('qgis is unavailable to the cluster command')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(folder), ROOT]), TF_CPP_MIN_LOG_LEVEL="3")
    assert subprocess.run([sys.executable, "-c", "import qgis"], env=env, capture_output=True).returncode != 0
    return env


def run_command(env, *arguments, timeout=300):
    return subprocess.run([sys.executable, "-m", "fast3dcnn_qgis.cluster", "classify", *map(str, arguments)],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def assert_same_maps(expected, output_dir):
    for path, (labels, confidence) in expected.items():
        stem = os.path.splitext(os.path.basename(path))[0]
        np.testing.assert_array_equal(helpers.read(output_dir / f"{stem}.tif"), labels)
        np.testing.assert_allclose(helpers.read(output_dir / f"{stem}_confidence.tif"), confidence, atol=1e-5)
        assert (output_dir / f"{stem}.qml").read_text() == \
            (output_dir.parent / f"expected_{stem}.qml").read_text().replace(f"expected_{stem}", stem)


def test_local_cluster_of_two_processes_writes_classifys_maps_and_reports_a_bad_input(scene, without_qgis):
    folder, model, expected = scene
    done = run_command(without_qgis, model, *expected, folder / "missing.tif", "--output-dir", folder / "local",
                       "--workers", 2, "--confidence", "--tile", 24)
    assert done.returncode == 1, done.stderr[-3000:]
    assert f"{folder / 'missing.tif'}: input raster: GDAL cannot open" in done.stderr
    assert "tiles: cube.tif 16/16, crop.tif 9/9" in done.stderr.replace("\r", "\n")
    assert_same_maps(expected, folder / "local")
    assert sorted(os.listdir(folder / "local")) == sorted(
        f"{stem}{suffix}" for stem in ("cube", "crop")
        for suffix in (".tif", ".qml", ".tif.aux.xml", "_confidence.tif"))


@pytest.fixture(scope="module")
def scheduler(scene, without_qgis):
    """A Dask scheduler and two workers, each a process of its own as on a real cluster."""
    folder = scene[0]
    address_file = folder / "scheduler.json"
    processes = [subprocess.Popen([DASK, "scheduler", "--scheduler-file", str(address_file), "--port", "0",
                                   "--dashboard-address", ":0"], env=without_qgis, stderr=subprocess.DEVNULL)]
    for _ in range(200):
        if address_file.exists() and address_file.stat().st_size:
            break
        time.sleep(0.1)
    address = json.loads(address_file.read_text())["address"]
    processes += [subprocess.Popen([DASK, "worker", address, "--nthreads", "1", "--nworkers", "1"],
                                   env=without_qgis, stderr=subprocess.DEVNULL) for _ in range(2)]
    yield address
    for process in processes:
        process.send_signal(signal.SIGINT)
    for process in processes:
        process.wait(timeout=60)


def test_scheduler_and_workers_started_apart_write_the_same_maps(scene, scheduler, without_qgis):
    folder, model, expected = scene
    done = run_command(without_qgis, model, *expected, "--output-dir", folder / "remote", "--scheduler", scheduler,
                       "--confidence", "--tile", 32)
    assert done.returncode == 0, done.stderr[-3000:]
    assert_same_maps(expected, folder / "remote")


def test_classify_with_a_scheduler_writes_the_same_map(scene, scheduler):
    folder, model, expected = scene
    cube = next(iter(expected))
    out = processing.run("fast3dcnn:classify", {"INPUT": cube, "MODEL": model, "SCHEDULER": scheduler,
                                                "OUTPUT": str(folder / "qgis_cluster.tif")})
    np.testing.assert_array_equal(helpers.read(out["OUTPUT"]), expected[cube][0])
    assert os.path.exists(folder / "qgis_cluster.qml")


def test_an_unreachable_scheduler_fails_in_seconds_naming_it(scene, without_qgis):
    folder, model, expected = scene
    start = time.monotonic()
    done = run_command(without_qgis, model, next(iter(expected)), "--output-dir", folder / "none",
                       "--scheduler", "tcp://127.0.0.1:9")
    assert done.returncode == 2 and time.monotonic() - start < 30
    assert "cannot reach the Dask scheduler at 'tcp://127.0.0.1:9' within 10 s" in done.stderr


def test_a_worker_killed_mid_run_does_not_change_the_map(scene, tmp_path):
    from fast3dcnn_qgis.cluster import classify_on_cluster, connect, output_paths

    folder, model, expected = scene
    cube = next(iter(expected))
    client = connect(workers=2)
    try:
        jobs = output_paths([cube], str(tmp_path), confidence=False)
        killed = []

        def kill_one_worker(job):
            if not killed and job.done == 3:
                pid = next(iter(client.run(os.getpid).values()))
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

        classify_on_cluster(client, model, jobs, tile=16, progress=kill_one_worker)
    finally:
        client.close()
        client.cluster.close()
    assert killed and jobs[0].error is None and jobs[0].done == jobs[0].tiles
    np.testing.assert_array_equal(helpers.read(tmp_path / "cube.tif"), expected[cube][0])
