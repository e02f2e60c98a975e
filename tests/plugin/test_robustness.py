"""The robustness matrix of issue 6: whatever a user feeds the algorithms ends in a correct result
or a QgsProcessingException naming the parameter, the value and the fix; no case leaves a partial
output behind and no input is modified.

Every case runs through the Processing API on small cuts of the shipped Salinas-A scene (40 x 40
pixels, 30 bands, one epoch), so the whole matrix takes a few minutes. ``MATRIX`` counts the cases
that ran; tests/conftest.py prints the count at the end of the run.
"""
import builtins
import hashlib
import json
import os
import pickle
import re
import shutil
import subprocess

import numpy as np
import processing
import pytest
from osgeo import gdal, ogr
from qgis.core import QgsProcessingContext, QgsProcessingException, QgsProcessingFeedback, QgsVectorLayer

import helpers
from fast3dcnn_qgis.gdal_io.ground_truth import read_ground_truth
from fast3dcnn_qgis.gdal_io.reading import open_raster, raster_info

#: Names of the matrix cases that ran (printed by tests/conftest.py at the end of the run).
MATRIX = []
# Co-training off (the default's three more trainings): these tests are not about the recipe.
FAST = {"WINDOW_SIZE": 9, "COMPONENTS": 15, "EPOCHS": 1, "SEED": 1, "BATCH_SIZE": 64, "COTRAINING": 2}
BANDS = 30
SIDE = 40


# -- inputs ----------------------------------------------------------------------------------------
def sha(path):
    """The file's checksum. A VRT is compared by what it holds (its pixels and source files), and a
    GDAL sidecar (.aux.xml, where a label raster keeps its class names) without the band statistics
    in it: QGIS has GDAL store the statistics of every raster it loads as a layer, in the VRT itself
    or in the sidecar (qgis_process does so even for a run it then refuses), which no plugin can
    prevent."""
    if str(path).endswith(".vrt"):
        dataset = gdal.Open(str(path))
        data = dataset.ReadAsArray().tobytes() + "|".join(sorted(dataset.GetFileList())).encode()
    else:
        with open(path, "rb") as stream:
            data = stream.read()
        if str(path).endswith(".aux.xml"):
            data = re.sub(rb"\s*<Metadata>(\s*<MDI key=\"STATISTICS_\w+\">[^<]*</MDI>)+\s*</Metadata>", b"", data)
    return hashlib.sha256(data).hexdigest()


def cut(source, target, side=SIDE, bands=BANDS, **options):
    """A ``side`` x ``side`` x ``bands`` georeferenced window of Salinas-A over its labelled fields."""
    options.setdefault("bandList", list(range(1, bands + 1)))
    return helpers.georeferenced_copy(source, target, srcWin=[20, 20, side, side], **options)


def write_cube(target, cube, like, nodata=None, data_type=gdal.GDT_Int16):
    """A GeoTIFF of ``cube`` (bands, rows, cols) on the grid of ``like``."""
    reference = gdal.Open(str(like))
    out = gdal.GetDriverByName("GTiff").Create(str(target), cube.shape[2], cube.shape[1], cube.shape[0], data_type)
    out.SetGeoTransform(reference.GetGeoTransform())
    out.SetProjection(reference.GetProjection())
    for i, band in enumerate(cube, start=1):
        if nodata is not None:
            out.GetRasterBand(i).SetNoDataValue(nodata)
        out.GetRasterBand(i).WriteArray(band)
    out = None
    return target


@pytest.fixture(scope="module")
def inputs(salinas, tmp_path_factory):
    """Every input of the matrix in one folder, with their checksums: the module's last test checks
    that no run modified any of them."""
    folder = tmp_path_factory.mktemp("inputs")
    cube = cut(salinas[0], folder / "cube.tif")
    labels = cut(salinas[1], folder / "labels.tif", bands=1)
    grid = helpers.read(labels)
    data = helpers.read(cube)
    made = {"cube": cube, "labels": labels}
    made["few_bands"] = cut(salinas[0], folder / "few_bands.tif", bands=10)
    made["one_band"] = cut(salinas[0], folder / "one_band.tif", bands=1)
    made["small"] = cut(salinas[0], folder / "small.tif", side=20)
    made["small_labels"] = cut(salinas[1], folder / "small_labels.tif", side=20, bands=1)
    # Non-finite values: whole pixels NaN, one band +Inf in others.
    floats = data.astype(np.float32)
    floats[:, 5:8, 5:30] = np.nan
    floats[3, 20:23, 10:30] = np.inf
    made["nan_inf"] = write_cube(folder / "nan_inf.tif", floats, cube, data_type=gdal.GDT_Float32)
    holes = data.copy()
    holes[:, 10:15, 10:20] = -1  # nodata over labelled fields
    made["nodata_holes"] = write_cube(folder / "nodata_holes.tif", holes, cube, nodata=-1)
    constant = data.copy()
    constant[4:9] = 1234
    made["constant_bands"] = write_cube(folder / "constant_bands.tif", constant, cube)
    empty = data.copy()
    empty[24:] = -9999  # bad detectors: bands 25-30 hold only nodata
    made["empty_bands"] = write_cube(folder / "empty_bands.tif", empty, cube, nodata=-9999)
    # A VRT mosaic of two tiles with a 4-column gap between them.
    left = gdal.Translate(str(folder / "tile_left.tif"), str(cube), srcWin=[0, 0, 18, SIDE])
    right = gdal.Translate(str(folder / "tile_right.tif"), str(cube), srcWin=[22, 0, 18, SIDE])
    left = right = None
    mosaic = gdal.BuildVRT(str(folder / "mosaic.vrt"), [str(folder / "tile_left.tif"),
                                                         str(folder / "tile_right.tif")],
                           VRTNodata=-9999, outputBounds=_bounds(cube))
    mosaic = None
    made["vrt_gaps"] = folder / "mosaic.vrt"
    odd = folder / "folder with spaces ñ"
    odd.mkdir()
    made["odd_path"] = shutil.copy(cube, odd / "Salinas é 数据.tif")
    made["odd_labels"] = shutil.copy(labels, odd / "étiquettes 1.tif")
    # Ground truth variants.
    made["gt_far"] = helpers.georeferenced_copy(labels, folder / "gt_far.tif", geotransform=(
        720000.0, 3.7, 0.0, 4160000.0, 0.0, -3.7))
    made["gt_zeros"] = helpers.write_labels(folder / "gt_zeros.tif", np.zeros_like(grid), cube)
    made["gt_one_class"] = helpers.write_labels(folder / "gt_one_class.tif", np.where(grid > 0, 1, 0), cube)
    single = grid.copy()
    single[0, 0] = 2  # a class of one pixel
    made["gt_single_pixel"] = helpers.write_labels(folder / "gt_single_pixel.tif", single, cube)
    negative = grid.astype(np.int16)
    negative[grid == 10] = -3
    made["gt_negative"] = write_cube(folder / "gt_negative.tif", negative[None], cube)
    fractional = grid.astype(np.float32)
    fractional[grid == 10] = 1.5
    made["gt_fractional"] = write_cube(folder / "gt_fractional.tif", fractional[None], cube,
                                       data_type=gdal.GDT_Float32)
    made["gt_polygons_4326"] = helpers.label_polygons(labels, folder / "gt_4326.gpkg", epsg=4326)
    made["gt_text_nulls"] = _text_field_with_nulls(made["gt_polygons_4326"], folder / "gt_text_nulls.gpkg")
    made["gt_negative_vector"] = _vector_sql(made["gt_polygons_4326"], folder / "gt_negative_vector.gpkg",
                                             "SELECT -class_id AS class_id, GEOMETRY FROM ground_truth")
    made["gt_lines"] = _vector_sql(made["gt_polygons_4326"], folder / "gt_lines.gpkg",
                                   "SELECT class_id, ST_ExteriorRing(GEOMETRY) AS GEOMETRY FROM ground_truth")
    made["gt_bowtie"], made["gt_overlap"] = _drawn_polygons(cube, folder)
    checksums = {path: sha(path) for path in folder.rglob("*") if path.is_file()}
    yield made
    changed = [str(p) for p, digest in checksums.items() if sha(p) != digest]
    assert not changed, f"inputs modified: {changed}"


def _bounds(raster):
    dataset = gdal.Open(str(raster))
    x0, dx, _, y0, _, dy = dataset.GetGeoTransform()
    return x0, y0 + dy * dataset.RasterYSize, x0 + dx * dataset.RasterXSize, y0


def _vector_sql(source, target, sql):
    gdal.VectorTranslate(str(target), str(source), format="GPKG", SQLStatement=sql, SQLDialect="SQLITE",
                         layerName="ground_truth", geometryType="PROMOTE_TO_MULTI")
    return target


def _text_field_with_nulls(source, target):
    """Polygons with a text class: names, and a NULL and an empty value on two features."""
    return _vector_sql(source, target, "SELECT CASE WHEN fid = 1 THEN NULL WHEN fid = 2 THEN '' ELSE name END "
                                       "AS name, GEOMETRY FROM ground_truth")


def _drawn_polygons(cube, folder):
    """A self-intersecting 'bow tie' pair of classes, and a small square of class 2 inside a large
    one of class 1, in the raster's CRS."""
    x0, y1, x1, y0 = _bounds(cube)
    dx, dy = (x1 - x0) / SIDE, (y1 - y0) / SIDE  # from the top-left corner: dy < 0

    def ring(points):
        return "POLYGON((" + ",".join(f"{x0 + i * dx} {y0 + j * dy}" for i, j in points + points[:1]) + "))"

    shapes = {
        "gt_bowtie": [(1, ring([(2, 2), (18, 18), (18, 2), (2, 18)])), (2, ring([(22, 22), (38, 22), (38, 38), (22, 38)]))],
        "gt_overlap": [(1, ring([(0, 0), (30, 0), (30, 30), (0, 30)])), (2, ring([(10, 10), (20, 10), (20, 20), (10, 20)]))],
    }
    paths = []
    for name, features in shapes.items():
        path = folder / f"{name}.gpkg"
        source = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
        layer = source.CreateLayer("ground_truth", srs=helpers.srs(helpers.UTM_EPSG), geom_type=ogr.wkbPolygon)
        layer.CreateField(ogr.FieldDefn("class_id", ogr.OFTInteger))
        for class_id, wkt in features:
            feature = ogr.Feature(layer.GetLayerDefn())
            feature.SetField("class_id", class_id)
            feature.SetGeometry(ogr.CreateGeometryFromWkt(wkt))
            layer.CreateFeature(feature)
        source = None
        paths.append(path)
    return paths


# -- running -----------------------------------------------------------------------------------------
def run(algorithm, parameters, feedback=None):
    return processing.run(f"fast3dcnn:{algorithm}", {k: str(v) if isinstance(v, os.PathLike) else v
                                                     for k, v in parameters.items()},
                          context=QgsProcessingContext(), feedback=feedback or QgsProcessingFeedback())


def fails(case, algorithm, parameters, *needles, folder=None):
    """Runs a case that must fail with a message holding every one of ``needles`` (the parameter,
    the value, the fix) and leave ``folder`` (the outputs') empty."""
    MATRIX.append(case)
    with pytest.raises(QgsProcessingException) as raised:
        run(algorithm, parameters)
    message = str(raised.value)
    for needle in needles:
        assert str(needle) in message, f"{case}: '{needle}' missing from: {message}"
    if folder is not None:
        assert not os.listdir(folder), f"{case} left {os.listdir(folder)}"
    return message


def train_parameters(inputs, out, raster="cube", truth="labels", **overrides):
    return {"INPUT": inputs[raster], "GROUND_TRUTH": inputs[truth], **FAST,
            "OUTPUT_MODEL": out / "model.f3dcnn", "OUTPUT_REPORT": out / "report.html", **overrides}


def assert_clean(folder):
    assert not [n for n in os.listdir(folder) if ".part" in n or n.startswith(".")], os.listdir(folder)


# -- raster cases ----------------------------------------------------------------------------------
RASTER_FAILS = {
    "fewer_bands_than_components": ("few_bands", ["COMPONENTS", "15", "at most 10 components"]),
    "single_band": ("one_band", ["COMPONENTS", "15", "at most 1 components"]),
}


@pytest.mark.parametrize("case", sorted(RASTER_FAILS))
def test_raster_refused(case, inputs, tmp_path):
    raster, needles = RASTER_FAILS[case]
    fails(f"raster:{case}", "train", train_parameters(inputs, tmp_path, raster), *needles, folder=tmp_path)


#: Rasters that train and classify; the value is a function of the cube giving the pixels that
#: must stay unclassified (0) in the map.
RASTER_RESULTS = {
    "nan_inf": lambda c: ~np.isfinite(c).all(axis=0),
    "nodata_holes": lambda c: (c == -1).any(axis=0),
    "constant_bands": lambda c: np.zeros(c.shape[1:], bool),
    "empty_bands": lambda c: np.zeros(c.shape[1:], bool),
    "vrt_gaps": lambda c: (c == -9999).any(axis=0),
    "odd_path": lambda c: np.zeros(c.shape[1:], bool),
}


@pytest.mark.parametrize("case", sorted(RASTER_RESULTS))
@pytest.mark.slow
def test_raster_trains_and_maps(case, inputs, tmp_path):
    MATRIX.append(f"raster:{case}")
    truth = "odd_labels" if case == "odd_path" else "labels"
    out = tmp_path / ("out é" if case == "odd_path" else "out")
    results = run("train", train_parameters(inputs, out, case, truth, OUTPUT=out / "map.tif"))
    cube = helpers.read(inputs[case])
    unclassified = RASTER_RESULTS[case](cube)
    classes = helpers.read(results["OUTPUT"])
    assert (classes[unclassified] == 0).all() and (classes[~unclassified] > 0).all()
    assert 0 <= results["OVERALL_ACCURACY"] <= 1 and np.isfinite(results["KAPPA"])
    assert_clean(out)


# -- parameter cases -------------------------------------------------------------------------------
PARAMETER_FAILS = {
    "window_even": ({"WINDOW_SIZE": 10}, ["WINDOW_SIZE", "10", "use 9 or 11"]),
    "window_too_small": ({"WINDOW_SIZE": 7}, ["WINDOW_SIZE", "7", "9"]),
    "window_larger_than_raster": ({"WINDOW_SIZE": 21, "INPUT": "small", "GROUND_TRUTH": "small_labels"},
                                  ["WINDOW_SIZE", "21", "20 x 20", "smaller odd window"]),
    "components_zero": ({"COMPONENTS": 0}, ["COMPONENTS", "0", "15"]),
    "components_more_than_bands": ({"COMPONENTS": 40}, ["COMPONENTS", "40", "at most 30"]),
    "bands_malformed": ({"BANDS": "1-x"}, ["BANDS", "1-x"]),
    "bands_out_of_range": ({"BANDS": "500"}, ["BANDS", "500", "30"]),
    "bands_exclude_all": ({"BANDS": "1-30"}, ["COMPONENTS", "1-30", "at most 0"]),
}


@pytest.mark.parametrize("case", sorted(PARAMETER_FAILS))
def test_parameter_refused(case, inputs, tmp_path):
    overrides, needles = PARAMETER_FAILS[case]
    overrides = {k: inputs.get(v, v) if k in ("INPUT", "GROUND_TRUTH") else v for k, v in overrides.items()}
    fails(f"parameter:{case}", "train", train_parameters(inputs, tmp_path, **overrides), *needles,
          folder=tmp_path)


# -- ground-truth cases ------------------------------------------------------------------------------
TRUTH_FAILS = {
    "no_overlap": ("gt_far", {}, ["GROUND_TRUTH", "gt_far", "labels no pixel"]),
    "all_zeros": ("gt_zeros", {}, ["GROUND_TRUTH", "gt_zeros", "labels no pixel"]),
    "one_class": ("gt_one_class", {}, ["GROUND_TRUTH", "gt_one_class", "only 1 class", "at least 2"]),
    "negative_ids": ("gt_negative", {}, ["GROUND_TRUTH", "-3", "1 or more"]),
    "fractional_ids": ("gt_fractional", {}, ["GROUND_TRUTH", "1.5", "whole numbers"]),
    "negative_ids_vector": ("gt_negative_vector", {"CLASS_FIELD": "class_id"}, ["CLASS_FIELD", "class_id", "-1"]),
    "missing_field": ("gt_polygons_4326", {"CLASS_FIELD": "nope"}, ["CLASS_FIELD", "nope", "class_id"]),
    "no_field_given": ("gt_polygons_4326", {}, ["CLASS_FIELD", "class_id, name"]),
}


@pytest.mark.parametrize("case", sorted(TRUTH_FAILS))
def test_ground_truth_refused(case, inputs, tmp_path):
    truth, overrides, needles = TRUTH_FAILS[case]
    fails(f"ground_truth:{case}", "train", train_parameters(inputs, tmp_path, truth=truth, **overrides),
          *needles, folder=tmp_path)


TRUTH_RESULTS = {
    "other_crs": ("gt_polygons_4326", {"CLASS_FIELD": "class_id"}),
    "text_with_null_and_empty": ("gt_text_nulls", {"CLASS_FIELD": "name"}),
    "self_intersecting_polygon": ("gt_bowtie", {"CLASS_FIELD": "class_id"}),
    "overlapping_polygons": ("gt_overlap", {"CLASS_FIELD": "class_id"}),
    "line_geometries": ("gt_lines", {"CLASS_FIELD": "class_id"}),
}


@pytest.mark.parametrize("case", sorted(TRUTH_RESULTS))
@pytest.mark.slow
def test_ground_truth_trains(case, inputs, tmp_path):
    MATRIX.append(f"ground_truth:{case}")
    truth, overrides = TRUTH_RESULTS[case]
    results = run("train", train_parameters(inputs, tmp_path, truth=truth, **overrides))
    assert os.path.getsize(results["OUTPUT_MODEL"]) and 0 <= results["OVERALL_ACCURACY"] <= 1
    assert_clean(tmp_path)


def test_overlapping_polygons_smaller_wins(inputs):
    """The rule: polygons burn from the largest to the smallest, so the small square keeps class 2."""
    info = raster_info(open_raster(inputs["cube"]))
    truth = read_ground_truth(QgsVectorLayer(str(inputs["gt_overlap"]), "overlap", "ogr"), info, "class_id")
    assert (truth.grid[11:19, 11:19] == 2).all() and (truth.grid[1:9, 1:29] == 1).all()
    assert (truth.grid[31:, :] == 0).all()


@pytest.mark.parametrize("split,value", [("0", None), ("1", 0.5), ("2", 5), ("3", 0.3)])
@pytest.mark.slow
def test_single_pixel_class_under_each_split(split, value, inputs, tmp_path):
    """A class of one pixel cannot give a test pixel: every split trains on it all the same, warns by
    its name, and the record and the report say it was not tested rather than scoring it 0."""
    MATRIX.append(f"ground_truth:single_pixel_class_split_{split}")
    parameters = train_parameters(inputs, tmp_path, truth="gt_single_pixel", SPLIT=split)
    if value is not None:
        parameters["SPLIT_VALUE"] = value
    feedback = helpers.Recorded()
    results = run("train", parameters, feedback)
    assert [w for w in feedback.warnings if w.startswith("Not tested: ") and "class 2" in w], feedback.warnings
    with open(results["OUTPUT_JSON"]) as stream:
        record = json.load(stream)
    assert 2 in record["split"]["not_tested"] and "not tested: class 2" in record["split"]["description"]
    untested = next(row for row in record["accuracy"]["per_class"] if row["id"] == 2)
    assert untested["support"] == 0 and untested["recall"] is None and untested["f1"] is None
    with open(results["OUTPUT_REPORT"], encoding="utf-8") as stream:
        assert "not tested" in stream.read()
    assert_clean(tmp_path)


# -- model files -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def model(inputs, tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    return run("train", train_parameters(inputs, folder))["OUTPUT_MODEL"]


class _Payload:
    """Unpickling this creates ``path``: proof that code from the file ran."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return builtins.open, (self.path, "w")


def _rewrite_header(model, target, **changes):
    import json
    with np.load(model, allow_pickle=False) as archive:
        arrays = {k: archive[k] for k in archive.files}
    header = json.loads(arrays["header"].tobytes())
    header.update(changes)
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    np.savez(target, **arrays)
    os.replace(str(target) + ".npz", target)
    return target


def _keras_lambda(target, marker, suffix):
    """A Keras model file with a Lambda layer that creates ``marker`` when Keras rebuilds it."""
    import keras
    code = f"lambda x: (open({str(marker)!r}, 'w').close(), x)[1]"
    inputs = keras.Input((4,))
    outputs = keras.layers.Lambda(eval(code))(inputs)
    path = str(target) + suffix
    keras.Model(inputs, outputs).save(path)
    os.remove(marker)  # building the model ran it once
    os.replace(path, target)
    return target


@pytest.fixture(scope="module")
def bad_models(model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad_models")
    marker = folder / "payload_ran"
    made = {}
    (folder / "text.f3dcnn").write_text("not a model\n")
    made["not_a_model"] = folder / "text.f3dcnn"
    data = open(model, "rb").read()
    (folder / "truncated.f3dcnn").write_bytes(data[:len(data) // 2])
    made["truncated"] = folder / "truncated.f3dcnn"
    made["newer_version"] = _rewrite_header(model, folder / "newer.f3dcnn", format_version=99)
    made["other_window"] = _rewrite_header(model, folder / "window.f3dcnn", window=11)
    made["huge_window"] = _rewrite_header(model, folder / "huge_window.f3dcnn", window=100001)
    made["too_many_classes"] = _rewrite_header(model, folder / "classes.f3dcnn", classes=[
        {"id": i, "name": None, "color": None} for i in range(1, 70000)])
    with open(folder / "pickle.f3dcnn", "wb") as stream:
        pickle.dump(_Payload(str(marker)), stream)
    made["raw_pickle"] = folder / "pickle.f3dcnn"
    with np.load(model, allow_pickle=False) as archive:
        arrays = {k: archive[k] for k in archive.files}
    arrays["header"] = np.array([_Payload(str(marker))], dtype=object)
    np.savez(folder / "npz_pickle", **arrays)
    made["npz_pickled_header"] = folder / "npz_pickle.f3dcnn"
    os.replace(folder / "npz_pickle.npz", made["npz_pickled_header"])
    made["keras_lambda"] = _keras_lambda(folder / "keras.f3dcnn", marker, ".keras")
    made["keras_lambda_h5"] = _keras_lambda(folder / "keras_h5.f3dcnn", marker, ".h5")
    assert not marker.exists()
    # The payloads are live: unpickling runs one.
    pickle.loads(pickle.dumps(_Payload(str(marker))))
    assert marker.exists()
    marker.unlink()
    return made, marker


MODEL_FAILS = {
    "not_a_model": ["not a Fast 3D CNN model file", "Train 3D CNN classifier"],
    "truncated": ["not a Fast 3D CNN model file"],
    "newer_version": ["format version 99", "update the Fast 3D CNN plugin"],
    "other_window": ["damaged", "field 'weight_008'", "train it again"],
    "huge_window": ["damaged", "field 'window' = 100001", "from 9 to 31", "train it again"],
    "too_many_classes": ["damaged", "field 'classes'", "2 to 65535 classes"],
    "raw_pickle": ["not a Fast 3D CNN model file"],
    "npz_pickled_header": ["not a Fast 3D CNN model file"],
    "keras_lambda": ["not a Fast 3D CNN model file"],
    "keras_lambda_h5": ["not a Fast 3D CNN model file"],
}


@pytest.mark.parametrize("case", sorted(MODEL_FAILS))
@pytest.mark.slow
def test_model_file_refused(case, bad_models, inputs, tmp_path):
    made, marker = bad_models
    fails(f"model:{case}", "classify", {"INPUT": inputs["cube"], "MODEL": made[case], "OUTPUT": tmp_path / "map.tif"},
          "MODEL", made[case], *MODEL_FAILS[case], folder=tmp_path)
    assert not marker.exists(), "code from the model file ran"


@pytest.mark.slow
def test_model_other_band_count_refused(model, inputs, tmp_path):
    fails("model:other_band_count", "classify", {"INPUT": inputs["few_bands"], "MODEL": model,
                                                 "OUTPUT": tmp_path / "map.tif"},
          "INPUT", "10", "30", folder=tmp_path)


# -- outputs -----------------------------------------------------------------------------------------
def classify(model, inputs, output, **more):
    return run("classify", {"INPUT": inputs["cube"], "MODEL": model, "OUTPUT": output, **more})


@pytest.mark.slow
def test_output_in_missing_folder_is_created(model, inputs, tmp_path):
    MATRIX.append("output:missing_folder")
    output = tmp_path / "not" / "yet" / "map.tif"
    assert helpers.read(classify(model, inputs, output)["OUTPUT"]).shape == (SIDE, SIDE)
    MATRIX.append("output:missing_folder_model")
    results = run("train", train_parameters(inputs, tmp_path / "new" / "folder"))
    assert os.path.getsize(results["OUTPUT_MODEL"])


@pytest.mark.parametrize("algorithm,key", [("classify", "OUTPUT"), ("classify", "OUTPUT_CONFIDENCE"),
                                           ("train", "OUTPUT_MODEL"), ("train", "OUTPUT_REPORT")])
@pytest.mark.slow
def test_output_read_only_folder(algorithm, key, model, inputs, tmp_path):
    if os.geteuid() == 0:
        folder = "/proc"  # read-only even for root, who may write in any chmod-ed folder
    else:
        folder = tmp_path / "locked"
        folder.mkdir()
        folder.chmod(0o500)
    if algorithm == "classify":
        parameters = {"INPUT": inputs["cube"], "MODEL": model, "OUTPUT": tmp_path / "map.tif"}
    else:
        parameters = train_parameters(inputs, tmp_path)
    parameters[key] = os.path.join(folder, "out.tif" if algorithm == "classify" else "out.f3dcnn")
    fails(f"output:read_only_{algorithm}_{key}", algorithm, parameters, key, "out.", "writable folder")
    assert [n for n in os.listdir(tmp_path) if n != "locked"] == []


@pytest.mark.slow
def test_output_equal_to_input(model, inputs, tmp_path):
    copy = shutil.copy(inputs["cube"], tmp_path / "cube.tif")
    before = sha(copy)
    fails("output:equal_to_input", "classify", {"INPUT": copy, "MODEL": model, "OUTPUT": copy},
          "OUTPUT", copy, "different file")
    assert sha(copy) == before
    fails("output:model_equal_to_input", "train", train_parameters(inputs, tmp_path, INPUT=copy, OUTPUT_MODEL=copy),
          "OUTPUT_MODEL", copy, "different file")
    assert sha(copy) == before


@pytest.fixture
def full_disk(tmp_path):
    """A 1 MB tmpfs, almost full."""
    folder = tmp_path / "tmpfs"
    folder.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)],
                      capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root or user namespaces)")
    try:
        with open(folder / "filler", "wb") as stream:
            try:
                stream.write(b"\0" * 2 ** 20)
            except OSError:
                pass
        yield folder
    finally:
        subprocess.run(["umount", str(folder)])


@pytest.mark.slow
def test_output_full_disk(full_disk, model, inputs):
    before = set(os.listdir(full_disk))
    message = fails("output:full_disk", "classify", {"INPUT": inputs["cube"], "MODEL": model,
                                                      "OUTPUT": full_disk / "map.tif"}, "OUTPUT", "map.tif",
                    "free disk space")
    assert set(os.listdir(full_disk)) == before, message


@pytest.mark.slow
def test_model_on_full_disk(full_disk, inputs):
    before = set(os.listdir(full_disk))
    fails("output:full_disk_model", "train", train_parameters(inputs, full_disk), "OUTPUT_MODEL", "model.f3dcnn",
          "free disk space")
    assert set(os.listdir(full_disk)) == before


@pytest.mark.slow
def test_existing_output_replaced_only_on_success(model, bad_models, inputs, tmp_path):
    MATRIX.append("output:existing_file_kept_on_failure")
    output = tmp_path / "map.tif"
    output.write_bytes(b"previous map")
    with pytest.raises(QgsProcessingException):
        classify(bad_models[0]["truncated"], inputs, output)
    assert output.read_bytes() == b"previous map"
    MATRIX.append("output:existing_file_replaced_on_success")
    classify(model, inputs, output)
    assert helpers.read(output).shape == (SIDE, SIDE)
    assert_clean(tmp_path)


# -- the same refusals through qgis_process, a separate QGIS process as in scripts and models --------
from test_package import QGIS_PROCESS, plugin_zip, profile  # noqa: E402,F401  (fixtures)


def qgis_process_fails(case, env, algorithm, parameters, *needles):
    MATRIX.append(f"qgis_process:{case}")
    done = subprocess.run([QGIS_PROCESS, "run", algorithm, "--", *(f"{k}={v}" for k, v in parameters.items())],
                          env=env, capture_output=True, text=True, timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    for needle in needles:
        assert str(needle) in output, f"{case}: '{needle}' missing from: {output[-2000:]}"


@pytest.mark.skipif(not os.path.exists(QGIS_PROCESS), reason="qgis_process.bin is not installed")
@pytest.mark.parametrize("case", ["window_even", "pickle_payload", "keras_lambda", "truncated",
                                  "output_equal_to_input", "huge_window"])
@pytest.mark.slow
def test_refused_through_qgis_process(case, profile, inputs, model, bad_models, tmp_path):  # noqa: F811
    made, marker = bad_models
    copy = shutil.copy(inputs["cube"], tmp_path / "cube.tif")
    before = sha(copy)
    classify = {"INPUT": copy, "MODEL": model, "OUTPUT": tmp_path / "map.tif"}
    if case == "window_even":
        qgis_process_fails(case, profile, "fast3dcnn:train", train_parameters(inputs, tmp_path, WINDOW_SIZE=10),
                           "WINDOW_SIZE", "10", "use 9 or 11")
    elif case == "output_equal_to_input":
        qgis_process_fails(case, profile, "fast3dcnn:classify", dict(classify, OUTPUT=copy),
                           "OUTPUT", copy, "different file")
    elif case == "huge_window":
        qgis_process_fails(case, profile, "fast3dcnn:classify", dict(classify, MODEL=made[case]),
                           "MODEL", made[case], "field 'window' = 100001", "train it again")
    else:
        bad = made[{"pickle_payload": "raw_pickle", "keras_lambda": "keras_lambda", "truncated": "truncated"}[case]]
        qgis_process_fails(case, profile, "fast3dcnn:classify", dict(classify, MODEL=bad),
                           "MODEL", bad, "not a Fast 3D CNN model file")
    assert not marker.exists(), "code from the model file ran"
    assert sha(copy) == before
    assert sorted(os.listdir(tmp_path)) == ["cube.tif"] or all(
        n.startswith("cube.tif") for n in os.listdir(tmp_path)), os.listdir(tmp_path)
