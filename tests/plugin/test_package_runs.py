"""Longer runs of the installed plugin through qgis_process.bin, on Debian 12 and 13 (the Debian unstable
suite keeps to test_package.py): a killed training resumed by running the same command again, and the
shipped labelling loop, two rounds of it."""
import json
import os
import shutil
import signal
import subprocess
import time

import pytest
from helpers import georeferenced_copy, label_polygons
from osgeo import ogr
from test_package import QGIS_PROCESS, plugin_zip, profile, qgis_process, run_json  # noqa: F401  (fixtures)

pytestmark = pytest.mark.skipif(not os.path.exists(QGIS_PROCESS), reason="qgis_process.bin is not installed")


@pytest.mark.slow
def test_killed_training_goes_on_when_the_same_command_runs_again(profile, salinas, tmp_path):
    """qgis_process killed (SIGKILL) once the training's first checkpoint is written; the same command
    run again resumes from it, writes the model and removes the checkpoints."""
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for path in salinas:
        shutil.copy(path, inputs / path.name)
    command = [QGIS_PROCESS, "run", "fast3dcnn:train", "--", f"INPUT={inputs / 'salinas_a.tif'}",
               f"GROUND_TRUTH={inputs / 'salinas_a_gt.tif'}", "BANDS=108-112,154-167,224", "EPOCHS=10", "COTRAINING=2",
               "WINDOW_SIZE=9", f"OUTPUT_MODEL={tmp_path / 'model.f3dcnn'}", f"OUTPUT_REPORT={tmp_path / 'report.html'}"]
    states = tmp_path / ".model.f3dcnn.checkpoints"
    with subprocess.Popen(command, env=profile, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as child:
        while not (states.is_dir() and any(path.suffix == ".npz" for path in states.iterdir())):
            assert child.poll() is None, "the training ended before its first checkpoint"
            time.sleep(0.05)
        child.kill()
    assert child.returncode == -signal.SIGKILL and not (tmp_path / "model.f3dcnn").exists()
    stdout = qgis_process(profile, *command[1:])
    assert "Resuming the training from its checkpoint after epoch" in stdout
    assert os.path.getsize(tmp_path / "model.f3dcnn") > 0 and not states.exists()


@pytest.mark.slow
def test_shipped_labelling_loop_suggests_and_trains_on_the_filled_points(profile, salinas, tmp_path):
    """The labelling loop (train_classify_suggest.model3) through qgis_process: the first round gives a
    model, a map and points to label; with every other point's class typed in, the second round trains
    on them too (each labels one more pixel) and suggests new points."""
    model = os.path.join(profile["QGIS_CUSTOM_CONFIG_PATH"], "profiles", "default", "python", "plugins",
                         "fast3dcnn_qgis", "resources", "models", "train_classify_suggest.model3")
    cube, labels = (georeferenced_copy(path, tmp_path / path.name) for path in salinas)
    polygons = label_polygons(labels, tmp_path / "polygons.gpkg")

    def round_(name, **more):
        outputs = {f"{step}:{output}": tmp_path / f"{name}_{file}" for step, output, file in (
            ("train", "model", "model.f3dcnn"), ("train", "training_report", "training.html"),
            ("classify", "class_map", "map.tif"), ("suggest", "points_to_label", "points.gpkg"))}
        results = run_json(profile, model, raster=cube, ground_truth=polygons, class_field="class_id", window=9,
                           epochs=1, points=10, **more, **outputs)["results"]
        with open(tmp_path / f"{name}_training.json", encoding="utf-8") as stream:
            return results, sum(json.load(stream)["labelled_pixels"].values())

    first, labelled = round_("first")
    source = ogr.Open(first["suggest:points_to_label"], 1)
    layer = source.GetLayer(0)
    assert layer.GetFeatureCount() == 10
    filled = 0
    for index, feature in enumerate(layer):
        if index % 2 == 0:
            feature.SetField("class_id", feature["predicted"])
            layer.SetFeature(feature)
            filled += 1
    source = None
    second, labelled_again = round_("second", labelled_points=first["suggest:points_to_label"])
    assert labelled_again == labelled + filled
    assert os.path.getsize(second["classify:class_map"]) > 0
    assert ogr.Open(second["suggest:points_to_label"]).GetLayer(0).GetFeatureCount() == 10
