"""The algorithm dialogs, the batch dialog and the graphical modeler in a real QGIS window under Xvfb
(dialog_tour.py): every parameter's label, default and help shows, CLASS_FIELD offers the vector
ground truth's fields, a batch of two rasters classifies both, and the shipped model opens with
every step valid. The screenshots are kept in test-artefacts/
(or $F3DCNN_ARTEFACTS) for a person to look at."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from helpers import georeferenced_copy, label_polygons, read
from osgeo import gdal

from fast3dcnn_qgis.core.modelfile import read_header

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ARTEFACTS = os.environ.get("F3DCNN_ARTEFACTS", os.path.join(ROOT, "test-artefacts", "dialogs"))
#: The crop's offset in the cube and its size (columns, rows).
CROP = (20, 10, 50, 60)

# Every test reads the tour of the dialogs that QGIS's GUI takes under xvfb.
pytestmark = pytest.mark.slow


def free_display():
    """An X display number no X server holds. xvfb-run's ``-a`` looks only at lock files in /tmp, which a
    chroot (the Debian 13 suite's) has of its own, while the servers' abstract sockets, listed in
    /proc/net/unix, are shared by every system on the host's network."""
    with open("/proc/net/unix") as stream:
        sockets = stream.read()
    number = 99 + os.getpid() % 400
    while os.path.exists(f"/tmp/.X{number}-lock") or f"/.X11-unix/X{number}\n" in sockets:
        number += 1
    return number


@pytest.fixture(scope="module")
def tour(salinas, tmp_path_factory):
    assert shutil.which("xvfb-run"), "xvfb-run is missing: `make setup` installs it (Debian package xvfb)"
    data = tmp_path_factory.mktemp("dialogs")
    cube, labels = (georeferenced_copy(source, data / name) for source, name in zip(salinas, ("cube.tif", "labels.tif")))
    label_polygons(labels, data / "polygons.gpkg")
    gdal.Translate(str(data / "crop.tif"), str(cube), srcWin=list(CROP))
    env = dict(os.environ, PYTHONPATH=ROOT, QT_QPA_PLATFORM="xcb", GDAL_PAM_ENABLED="NO",
               QGIS_CUSTOM_CONFIG_PATH=str(tmp_path_factory.mktemp("profile")))
    done = subprocess.run(["xvfb-run", "-n", str(free_display()), "-s", "-screen 0 1280x1024x24", sys.executable,
                           os.path.join(ROOT, "tests", "plugin", "dialog_tour.py"), str(data), ARTEFACTS],
                          capture_output=True, text=True, env=env, timeout=600)
    assert "DONE" in done.stdout, done.stdout[-3000:] + done.stderr[-3000:]
    found = {}
    for line in done.stdout.splitlines():
        key, _, value = line.partition(" ")
        if key in ("DIALOG", "CLASS_FIELD", "BATCH_CLASS_FIELD", "BATCH", "MODELER"):
            found.setdefault(key, []).append(json.loads(value))
    return found


def test_each_dialog_shows_every_parameter_its_default_and_its_help(tour):
    dialogs = {d["algorithm"]: d for d in tour["DIALOG"]}
    assert sorted(dialogs) == ["fast3dcnn:assess", "fast3dcnn:classify", "fast3dcnn:importmat", "fast3dcnn:modelinfo",
                              "fast3dcnn:suggest", "fast3dcnn:train"]
    for name, dialog in dialogs.items():
        assert dialog["labels_missing"] == [], name
        assert dialog["help_shown"] and dialog["help_names_every_parameter"], name
        for key, (shown, default) in dialog["defaults"].items():
            assert shown == default, (name, key, shown, default)
        assert os.path.getsize(dialog["screenshot"]) > 10000 and dialog["colours"] > 20, name
    assert dialogs["fast3dcnn:train"]["defaults"]["WINDOW_SIZE"] == [11, 11]


def test_class_field_lists_the_vector_ground_truths_fields_and_none_for_a_raster(tour):
    chooser = tour["CLASS_FIELD"][0]
    assert {"class_id", "name"} <= set(chooser["polygons"])
    assert [name for name in chooser["labels"] if name] == []
    assert chooser["chosen"] == "name"
    polygons_row, labels_row = tour["BATCH_CLASS_FIELD"][0]
    assert {"class_id", "name"} <= set(polygons_row) and not any(labels_row)


def test_a_batch_of_two_rasters_classifies_each_consistently(tour):
    batch = tour["BATCH"][0]
    assert batch["rows"] == 2 and batch["finished"], batch
    full, crop = (read(path) for path in batch["outputs"])
    column, row, width, height = CROP
    assert full.shape == (83, 86) and crop.shape == (height, width)
    assert set(np.unique(full)) <= {0, 1, 10, 11, 12, 13, 14} and len(np.unique(full)) > 2
    # Away from the crop's edges each pixel sees the same window (its patch, and its neighbours' patches
    # within the radius the model smooths its map over), so both rows agree there.
    header = read_header(os.path.join(os.path.dirname(batch["outputs"][0]), "polygons.f3dcnn"))
    margin = 11 // 2 + (header["smoothing"] or {}).get("radius", 0)
    inner = (slice(margin, height - margin), slice(margin, width - margin))
    assert np.array_equal(crop[inner], full[row:row + height, column:column + width][inner])


def test_the_shipped_model_opens_in_the_modeler_with_its_class_field_linked(tour):
    modeler = tour["MODELER"][0]
    assert modeler["loaded"] and modeler["steps"] == {"train": True, "classify": True, "assess": True}
    assert modeler["colours"] > 20
    assert modeler["class_field_shown"] == "Class field of the ground truth"
    assert modeler["class_field_input"] == "class_field"
