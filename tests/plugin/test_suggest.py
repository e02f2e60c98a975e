"""``fast3dcnn:suggest`` on the shipped Salinas-A scene (georeferenced copy): the points, their fields and
style, and a labelled layer of them trained on with ``LABELLED_POINTS``."""
import numpy as np
import processing
import pytest
from helpers import Recorded, georeferenced_copy, label_polygons, read
from osgeo import ogr
from qgis.core import QgsProcessingContext, QgsProcessingException, QgsProcessingFeedback, QgsVectorLayer

from fast3dcnn_qgis.core.suggestions import CHOICES

WINDOW = 9
FAST = {"WINDOW_SIZE": WINDOW, "COMPONENTS": 15, "SEED": 1, "EPOCHS": 2, "COTRAINING": 2}


@pytest.fixture(scope="module")
def scene(salinas, tmp_path_factory):
    """The georeferenced scene, its label raster and polygons, and a model trained on the polygons
    (class field ``class_id``)."""
    folder = tmp_path_factory.mktemp("suggest")
    cube, labels = (georeferenced_copy(path, folder / path.name) for path in salinas)
    polygons = label_polygons(labels, folder / "polygons.gpkg")
    processing.run("fast3dcnn:train", {"INPUT": str(cube), "GROUND_TRUTH": str(polygons), "CLASS_FIELD": "class_id",
                                       **FAST, "OUTPUT_MODEL": str(folder / "model.f3dcnn"),
                                       "OUTPUT_REPORT": str(folder / "report.html")})
    return cube, labels, polygons, folder / "model.f3dcnn"


def suggest(scene, output, **more):
    cube, labels, _, model = scene
    return processing.run("fast3dcnn:suggest", {"INPUT": str(cube), "MODEL": str(model), "GROUND_TRUTH": str(labels),
                                                "POINTS": 30, "OUTPUT": str(output), **more},
                          context=QgsProcessingContext(), feedback=QgsProcessingFeedback())["OUTPUT"]


def pixels(layer_path):
    """(rows, cols, features) of the points, their pixels computed from their coordinates."""
    layer = QgsVectorLayer(str(layer_path), "points", "ogr")
    features = list(layer.getFeatures())
    x0, dx, y0, dy = 620000.0, 3.7, 4060000.0, -3.7
    cols = np.array([int((f.geometry().asPoint().x() - x0) // dx) for f in features])
    rows = np.array([int((f.geometry().asPoint().y() - y0) // dy) for f in features])
    return rows, cols, features


@pytest.mark.slow
@pytest.mark.parametrize("rule", range(len(CHOICES)))
def test_points_are_spaced_off_the_labels_inside_the_raster_and_styled(scene, tmp_path, rule):
    path = suggest(scene, tmp_path / "points.gpkg", RULE=rule)
    rows, cols, features = pixels(path)
    labels = read(scene[1])
    assert 10 <= len(features) <= 30
    assert ((rows >= 0) & (rows < labels.shape[0]) & (cols >= 0) & (cols < labels.shape[1])).all()
    for row, col in zip(rows, cols):  # neither on a labelled pixel nor next to one
        assert not labels[max(row - 1, 0):row + 2, max(col - 1, 0):col + 2].any(), (row, col)
    gaps = np.maximum(abs(rows[:, None] - rows[None]), abs(cols[:, None] - cols[None])) + WINDOW * np.eye(len(rows))
    assert gaps.min() >= WINDOW
    assert [(f["row"], f["col"]) for f in features] == list(zip(rows.tolist(), cols.tolist()))
    assert [f["rank"] for f in features] == list(range(1, len(features) + 1))
    first = features[0]
    assert all(not f["class_id"] for f in features)  # the ground truth's class field, empty to fill in
    assert first["predicted"] != first["runner_up"] and first["confidence"] >= first["runner_up_probability"]
    assert first["reason"].startswith("the network with its forest and SVM hesitates between")  # a fused model
    layer = QgsVectorLayer(str(path), "points", "ogr")
    assert layer.renderer().type() == "singleSymbol" and layer.labelsEnabled()
    assert layer.labeling().settings().fieldName == "rank"


@pytest.mark.slow
def test_labelled_points_join_the_ground_truth_and_a_wrong_class_is_refused(scene, tmp_path):
    cube, _, polygons, _ = scene
    path = suggest(scene, tmp_path / "points.gpkg", POINTS=12)
    source = ogr.Open(str(path), 1)
    layer = source.GetLayer(0)
    filled = 0
    for index, feature in enumerate(layer):
        if index % 2:  # the analyst agrees with the prediction on every other point, by id or by name
            feature.SetField("class_id", str(feature["predicted_id"]) if index % 4 == 1 else feature["predicted"])
            layer.SetFeature(feature)
            filled += 1
    source = None
    log = Recorded()
    run = {"INPUT": str(cube), "GROUND_TRUTH": str(polygons), "CLASS_FIELD": "class_id", **FAST, "EPOCHS": 1,
           "LABELLED_POINTS": str(path), "OUTPUT_MODEL": str(tmp_path / "again.f3dcnn"),
           "OUTPUT_REPORT": str(tmp_path / "again.html")}
    processing.run("fast3dcnn:train", run, context=QgsProcessingContext(), feedback=log)
    added = [line for line in log.lines if line.startswith("LABELLED_POINTS")]
    assert added == [(f"LABELLED_POINTS ('points'): {filled} labelled pixels added to the ground truth; "
                      f"{12 - filled} points with an empty class_id were skipped")], log.lines

    source = ogr.Open(str(path), 1)
    layer = source.GetLayer(0)
    feature = layer.GetNextFeature()
    feature.SetField("class_id", "Lettuce_romaine_9wk")
    layer.SetFeature(feature)
    source = None
    with pytest.raises(QgsProcessingException, match="labelled 'Lettuce_romaine_9wk' in class_id, which is none of "
                                                     "the ground truth's classes"):
        processing.run("fast3dcnn:train", {**run, "OUTPUT_MODEL": str(tmp_path / "third.f3dcnn")})
