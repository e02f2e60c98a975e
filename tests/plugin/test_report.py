"""The HTML/JSON report: figures as given, names escaped, nothing fetched from outside, preview colours."""
import json
import os
import re

import numpy as np
import pytest
from osgeo import gdal

from fast3dcnn_qgis.core.classes import ClassTable
from fast3dcnn_qgis.core.metrics import accuracy_report
from fast3dcnn_qgis.core.record import RunRecord
from fast3dcnn_qgis.reporting.png import class_map_png
from fast3dcnn_qgis.gdal_io.styles import class_map_preview
from fast3dcnn_qgis.reporting.report import write_report

DATA = os.path.join(os.path.dirname(__file__), "..", "data")
NAMES = {1: "Brocoli <b>weeds</b>", 10: "Corn & \"senesced\"", 11: "Lettuce 4wk", 12: "Lettuce 5wk",
         13: "Lettuce 6wk", 14: "Lettuce 7wk"}
COLORS = {1: "#e6194b", 10: "#3cb44b", 11: "#ffe119", 12: "#4363d8", 13: "#f58231", 14: "#911eb4"}
CLASSES = ClassTable.from_ids(NAMES, NAMES, COLORS)


@pytest.fixture(scope="module")
def ground_truth():
    return gdal.Open(os.path.join(DATA, "salinas_a_gt.tif")).ReadAsArray()


@pytest.fixture(scope="module")
def figures(ground_truth):
    """A real accuracy report: the Salinas-A ground truth against a map with two known confusions."""
    predicted = ground_truth.copy()
    predicted[(ground_truth == 10) & (np.arange(ground_truth.shape[1]) % 5 == 0)] = 11
    predicted[(ground_truth == 14) & (np.arange(ground_truth.shape[1]) % 7 == 0)] = 0
    return accuracy_report(ground_truth, predicted, sorted(NAMES), NAMES)


def training_record(figures):
    return RunRecord(
        figures, CLASSES, versions={"python": "3.11", "numpy": np.__version__},
        settings={"window": 11, "epochs": 3, "batch_size": 256, "learning_rate": 0.001, "components": 20,
                  "excluded_bands": "108-112,154-167,224"},
        model={"kept_bands": "1-107,113-153,168-223", "explained_variance_ratio": np.float32(0.9991),
               "parameters": np.int64(47942)},
        split={"method": "paper", "value": None, "n_train": 51, "n_val": 51, "n_test": figures["n_pixels"],
               "description": "paper: 51 training, 51 validation, rest test"},
        history={"loss": [1.7, 1.1, 0.6], "accuracy": [0.3, 0.6, 0.8], "val_loss": [1.6, 1.2, float("nan")],
                 "val_accuracy": [0.35, 0.55, 0.75]},
        best_epoch=2, timings={"train_seconds": 3.25, "pca_seconds": 0.5})


def test_classifier_report_holds_the_figures_and_escapes_names(tmp_path, figures, ground_truth):
    record = training_record(figures)
    png = class_map_png(ground_truth, COLORS)
    html_path, json_path = write_report(record, str(tmp_path / "report.html"), png)

    assert json_path == str(tmp_path / "report.json")
    with open(json_path, encoding="utf-8") as stream:
        written = json.load(stream)
    assert written == record.to_json()
    assert written["accuracy"]["overall_accuracy"] == figures["overall_accuracy"]
    assert written["accuracy"]["confusion_matrix"] == figures["confusion_matrix"]
    assert written["history"]["val_loss"][2] is None  # NaN is not valid JSON
    assert written["model"]["parameters"] == 47942 and written["classes"][1] == {
        "id": 10, "name": NAMES[10], "color": COLORS[10]}
    assert RunRecord.from_json(written).to_json() == written
    assert sorted(os.listdir(tmp_path)) == ["report.html", "report.json"]  # no temporary file left

    page = open(html_path, encoding="utf-8").read()
    assert "<b>weeds</b>" not in page and "Brocoli &lt;b&gt;weeds&lt;/b&gt;" in page
    assert "Corn &amp; &quot;senesced&quot;" in page
    assert f"{100 * figures['overall_accuracy']:.2f}%" in page
    assert f"{100 * figures['average_accuracy']:.2f}%" in page
    assert f"{figures['kappa']:.4f}" in page
    assert "paper: 51 training, 51 validation, rest test" in page
    assert "Measured next to the training pixels:" in page  # a random split says what its figures measure
    record.split = {**record.split, "method": "disjoint", "description": "disjoint 0.3: 51 training"}
    html_path, _ = write_report(record, str(tmp_path / "disjoint.html"), png)
    assert "Measured next to the training pixels" not in open(html_path, encoding="utf-8").read()
    assert page.count("<polyline") == 4  # loss and accuracy, training and validation
    assert "data:image/png;base64," in page
    for section in ("Per class", "Confusion matrix", "Training curves", "Settings", "Timings", "Software versions"):
        assert f"<h2>{section}</h2>" in page
    # Self-contained: nothing is loaded from elsewhere.
    assert not re.search(r"<script|<link|src=\"(?!data:)|url\(", page)


def test_training_report_shows_the_pixel_classifiers_beside_the_network(tmp_path, figures, ground_truth):
    svm_map, forest_map = ground_truth.copy(), ground_truth.copy()
    svm_map[(ground_truth == 12) & (np.arange(ground_truth.shape[0])[:, None] % 2 == 0)] = 13
    forest_map[(ground_truth == 11) & (np.arange(ground_truth.shape[0])[:, None] % 3 == 0)] = 14
    svm = accuracy_report(ground_truth, svm_map, sorted(NAMES), NAMES)
    forest = accuracy_report(ground_truth, forest_map, sorted(NAMES), NAMES)
    counts = {"n_train": 51, "n_train_available": 51, "n_val": 51, "n_test": svm["n_pixels"],
              "n_test_available": svm["n_pixels"]}
    record = training_record(figures)
    record.baseline = {"method": "RBF SVM on standardised spectra", "name": "SVM baseline", "C": 100.0,
                       "gamma": 0.005, **counts, "seconds": 0.4, "accuracy": svm}
    record.forest = {"method": "Random forest (200 trees) on the spectra", "name": "random forest", **counts,
                     "fit_seconds": 0.7, "predict_seconds": 0.05, "seconds": 0.75, "accuracy": forest}
    html_path, json_path = write_report(record, str(tmp_path / "report.html"))
    page = open(html_path, encoding="utf-8").read()
    for name, other in (("SVM baseline", svm), ("random forest", forest)):
        better = "3D CNN" if figures["overall_accuracy"] > other["overall_accuracy"] else name
        assert f"The {better} is better than the" in page
    section = page[page.index("Against plain pixel classifiers"):page.index("<h2>Per class</h2>")]
    for value in (figures["overall_accuracy"], svm["overall_accuracy"], svm["average_accuracy"],
                  forest["overall_accuracy"], forest["average_accuracy"]):
        assert f"{100 * value:.2f}%" in section
    assert "Brocoli &lt;b&gt;weeds&lt;/b&gt;" in section and "C = 100" in section
    assert "<th>Random forest</th>" in section and "<th>F1, Random forest</th>" in section
    assert "Random forest (200 trees) on the spectra: fitted on the same 51 pixels in 0.7 s" in section
    written = json.load(open(json_path, encoding="utf-8"))
    assert written["baseline"]["accuracy"] == svm and written["forest"]["accuracy"] == forest
    assert "fused with" not in page and "3D CNN alone" not in page  # the network alone: no fusion

    # Fused with the forest: the figures are the fused map's, the network's own beside them.
    record.fusion = {"method": "mean of the network's and the random forest's class probabilities", "trees": 100,
                     "n_test": figures["n_pixels"],
                     "network_accuracy": {"overall_accuracy": 0.8123, "average_accuracy": 0.8, "kappa": 0.77}}
    page = open(write_report(record, str(tmp_path / "fused.html"))[0], encoding="utf-8").read()
    section = page[page.index("Against plain pixel classifiers"):page.index("<h2>Per class</h2>")]
    assert "<th>3D CNN fused with the forest</th><th>3D CNN alone</th><th>SVM</th>" in section
    assert "81.23%" in section and "The 3D CNN fused with the forest " in section
    fusion = section[section.index("<h2>The map: the network fused with a random forest</h2>"):]
    assert (f"The figures above are the fused map's, on {figures['n_pixels']:,} test pixels: OA "
            f"{100 * figures['overall_accuracy']:.2f}%, the network alone 81.23%, the forest alone "
            f"{100 * forest['overall_accuracy']:.2f}%") in fusion

    # Fused with the forest and the SVM (format 6): named so, with the SVM's own figure too.
    record.fusion = {**record.fusion, "support_vectors": 1234}
    page = open(write_report(record, str(tmp_path / "fused_svm.html"))[0], encoding="utf-8").read()
    assert "<th>3D CNN fused with the forest and the SVM</th><th>3D CNN alone</th><th>SVM</th>" in page
    fusion = page[page.index("<h2>The map: the network fused with a random forest and an SVM</h2>"):]
    assert "100 trees and an SVM of 1,234 support vectors on the pixel's spectrum" in fusion
    assert (f"the network alone 81.23%, the forest alone {100 * forest['overall_accuracy']:.2f}%, the SVM alone "
            f"{100 * svm['overall_accuracy']:.2f}%.") in fusion
    del record.fusion["support_vectors"]

    # Smoothed: the figures above are the smoothed map's, the fused ones before smoothing beside them.
    record.smoothing = {"method": "geometric mean of the class probabilities of the valid pixels within the radius",
                        "radius": 3, "agreement": 0.9583, "pairs": 112000, "n_test": figures["n_pixels"],
                        "unsmoothed_accuracy": {"overall_accuracy": 0.9012, "average_accuracy": 0.9, "kappa": 0.88}}
    page = open(write_report(record, str(tmp_path / "smoothed.html"))[0], encoding="utf-8").read()
    assert "The fused figures before smoothing, on 5,348 test pixels: OA 90.12%" in page
    smoothing = page[page.index("<h2>The map: smoothed over 3 pixels</h2>"):]
    assert "(7 x 7 pixels; Classify applies it too)" in smoothing and "share its class 95.83% of the time" in smoothing
    assert (f"the smoothed map's, on 5,348 test pixels: OA {100 * figures['overall_accuracy']:.2f}%, before "
            f"smoothing 90.12%") in smoothing
    # Not smoothed: the report says why.
    record.smoothing = {**record.smoothing, "radius": 0, "agreement": 0.63, "pairs": 18000}
    page = open(write_report(record, str(tmp_path / "unsmoothed.html"))[0], encoding="utf-8").read()
    assert "<h2>The map is not smoothed</h2><p>A training pixel's labelled next neighbours share its class 63.00%" in page
    assert "The figures above are the fused map's" in page

    # Smoothed and weighted: each step's figures before the next, the weighted map's above.
    record.smoothing = {**record.smoothing, "radius": 3}
    record.balance = {"method": "class probabilities times the training share of the class to the power -0.5",
                      "exponent": 0.5, "weights": [1.0, 1.0, 1.5, 1.95], "train_counts": [5, 300, 133, 79],
                      "n_test": figures["n_pixels"],
                      "unweighted_accuracy": {"overall_accuracy": 0.9071, "average_accuracy": 0.8512, "kappa": 0.89}}
    page = open(write_report(record, str(tmp_path / "weighted.html"))[0], encoding="utf-8").read()
    assert "The fused figures before smoothing and the classes' weighting, on 5,348 test pixels: OA 90.12%" in page
    assert "The smoothed map's figures before the classes' weighting, on 5,348 test pixels: OA 90.71%" in page
    weighting = page[page.index("<h2>The map: classes weighted against their training shares</h2>"):]
    # The most trained class is named by its count, not by the first weight of 1 (an untested class's).
    assert ("weights from 1.00 (Corn &amp; &quot;senesced&quot;, the most trained class) to 1.95 (Lettuce 5wk); "
            "classes too small to test keep 1.") in weighting
    assert (f"the weighted map's, on 5,348 test pixels: OA {100 * figures['overall_accuracy']:.2f}% and AA "
            f"{100 * figures['average_accuracy']:.2f}%, unweighted 90.71% and 85.12%") in weighting


def test_training_report_says_what_cotraining_changed(tmp_path, figures, ground_truth):
    first_map = ground_truth.copy()
    first_map[(ground_truth == 13) & (np.arange(ground_truth.shape[1]) % 3 == 0)] = 12
    first = accuracy_report(ground_truth, first_map, sorted(NAMES), NAMES)
    record = training_record(figures)
    rounds = [{"n_pseudo_labels": n, "epochs": 10, "overall_accuracy": oa, "average_accuracy": 0.9, "kappa": 0.9,
               "pseudo_labels_per_class": {1: 138, 10: corn, 11: 120, 12: 637, 13: 353, 14: 315}}
              for n, oa, corn in ((2197, 0.931, 634), (2205, figures["overall_accuracy"], 642))]
    record.cotraining = {"n_pool": 4941, "first_accuracy": first, "rounds": rounds}
    html_path, json_path = write_report(record, str(tmp_path / "report.html"))
    written = json.load(open(json_path, encoding="utf-8"))
    assert written["cotraining"]["rounds"][1]["pseudo_labels_per_class"]["10"] == 642
    # The report read back from its JSON (class ids as text) renders the same section.
    again, _ = write_report(RunRecord.from_json(written), str(tmp_path / "again.html"))
    for path in (html_path, again):
        page = open(path, encoding="utf-8").read()
        section = page[page.index("<h2>Co-training with the SVM baseline</h2>"):page.index("<h2>Per class</h2>")]
        for value in (first["overall_accuracy"], 0.931, figures["overall_accuracy"]):
            assert f"{100 * value:.2f}%" in section
        assert "4,941 pixels" in section and "for 10 epochs, 2 times" in section
        assert "<td>round 2</td><td class=\"num\">2,205" in section
        assert "<td>Corn &amp; &quot;senesced&quot;</td><td class=\"num\">634</td><td class=\"num\">642</td>" \
            in section


def test_a_class_not_tested_reads_so_in_the_report_and_its_json(tmp_path, ground_truth):
    reference = np.where(ground_truth == 13, 0, ground_truth)  # no test pixel of Lettuce 6wk
    predicted = np.where((ground_truth == 12) & (np.arange(ground_truth.shape[1]) % 9 == 0), 13, ground_truth)
    record = training_record(accuracy_report(reference, predicted, sorted(NAMES), NAMES))
    record.split.update(not_tested=[13], description="paper: 51 training, 51 validation, rest test; not tested: "
                                                     "class 13")
    html_path, json_path = write_report(record, str(tmp_path / "report.html"))
    lettuce = json.load(open(json_path, encoding="utf-8"))["accuracy"]["per_class"][4]
    assert lettuce == {"id": 13, "name": NAMES[13], "precision": 0.0, "recall": None, "f1": None, "support": 0}
    page = open(html_path, encoding="utf-8").read()
    assert "Not tested: class 13 (Lettuce 6wk). These classes have too few labelled pixels" in page
    assert "Lettuce 6wk</td><td colspan=\"3\">not tested</td><td class=\"num\">0</td>" in page
    assert page.count(">not tested<") == 1


def test_confusion_matrix_cells_show_the_counts(tmp_path, figures):
    write_report(RunRecord(figures, CLASSES), str(tmp_path / "a.html"))
    page = open(tmp_path / "a.html", encoding="utf-8").read()
    matrix = np.array(figures["confusion_matrix"])
    cells = [int(c.replace(",", "")) for c in re.findall(r"<td class=\"num\" style=[^>]*>([\d,]+)</td>", page)]
    unclassified = figures["n_unclassified"]
    assert unclassified > 0
    # Each row: the class columns, then the column of pixels the map left unclassified.
    rows = np.array(cells).reshape(len(matrix), len(matrix) + 1)
    assert np.array_equal(rows[:, :-1], matrix)
    assert rows[:, -1].sum() == unclassified


def test_assessment_report_leaves_out_training_sections(tmp_path, figures):
    record = RunRecord(figures, CLASSES, inputs={"Class map": "/maps/<mine>.tif", "Reference": "gt.tif"})
    html_path, json_path = write_report(record, str(tmp_path / "assess.html"), title="Accuracy assessment")
    page = open(html_path, encoding="utf-8").read()
    assert "<h2>Training curves</h2>" not in page and "<h2>Settings</h2>" not in page
    assert "<h2>Inputs</h2>" in page and "/maps/&lt;mine&gt;.tif" in page
    assert "labelled reference pixels" in page
    written = json.load(open(json_path, encoding="utf-8"))
    assert written == record.to_json() and written["accuracy"]["kappa"] == figures["kappa"]
    assert written["settings"] is None and written["history"] is None


def test_map_preview_png_has_the_class_colours(ground_truth):
    png = class_map_png(ground_truth, COLORS)
    gdal.FileFromMemBuffer("/vsimem/preview.png", png)
    try:
        rgba = gdal.Open("/vsimem/preview.png").ReadAsArray()
    finally:
        gdal.Unlink("/vsimem/preview.png")
    assert rgba.shape == (4,) + ground_truth.shape
    for class_id, color in COLORS.items():
        expected = [int(color[i:i + 2], 16) for i in (1, 3, 5)] + [255]
        pixels = rgba[:, ground_truth == class_id]
        assert (pixels == np.array(expected)[:, None]).all()
    assert (rgba[3][ground_truth == 0] == 0).all()  # unlabelled is transparent


def test_preview_of_a_written_class_map_uses_its_colour_table(tmp_path, ground_truth):
    path = str(tmp_path / "map.tif")
    dataset = gdal.GetDriverByName("GTiff").Create(path, ground_truth.shape[1], ground_truth.shape[0], 1,
                                                   gdal.GDT_Byte)
    band = dataset.GetRasterBand(1)
    table = gdal.ColorTable()  # before the pixels: GDAL 3.10 refuses the palette of a TIFF being written
    for class_id, color in COLORS.items():
        table.SetColorEntry(class_id, tuple(int(color[i:i + 2], 16) for i in (1, 3, 5)) + (255,))
    band.SetRasterColorTable(table)
    band.SetNoDataValue(0)
    band.WriteArray(ground_truth)
    dataset = band = None

    assert class_map_preview(path) == class_map_png(ground_truth, COLORS)
    thinned = class_map_preview(path, max_side=40)
    gdal.FileFromMemBuffer("/vsimem/thin.png", thinned)
    try:
        size = gdal.Open("/vsimem/thin.png").RasterXSize, gdal.Open("/vsimem/thin.png").RasterYSize
    finally:
        gdal.Unlink("/vsimem/thin.png")
    assert max(size) <= 43 and min(size) >= 20
