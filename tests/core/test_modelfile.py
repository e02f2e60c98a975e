import json
import os
import pickle
import zipfile

import numpy as np
import pytest

from fast3dcnn_qgis.core.bands import BandCountError
from fast3dcnn_qgis.core.modelfile import ModelFileError, describe_model, load_classifier, read_header, save_classifier

from .conftest import SALINAS_BAD_BANDS


@pytest.mark.slow
def test_round_trip_keeps_everything(salinas_classifier, tmp_path, salinas):
    path = tmp_path / "salinas.f3dcnn"
    save_classifier(salinas_classifier, str(path))
    assert os.listdir(tmp_path) == ["salinas.f3dcnn"]  # no temporary file left behind
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # shared like any output, not private
    loaded = load_classifier(str(path))
    assert loaded.window == 9 and loaded.input_band_count == 224
    assert list(loaded.class_ids) == [1, 10, 11, 12, 13, 14]
    assert loaded.classes == salinas_classifier.classes
    assert loaded.classes.name(1) == "Brocoli_green_weeds_1" and loaded.classes.name(12) == "class 12"
    assert loaded.record.settings["excluded_bands"] == SALINAS_BAD_BANDS
    assert loaded.record.to_json() == salinas_classifier.record.to_json()
    assert all(np.array_equal(a, b) for a, b in zip(loaded.network.get_weights(),
                                                     salinas_classifier.network.get_weights()))
    block = salinas[0][:12, :12]
    assert np.array_equal(loaded.reducer.transform_block(block)[0],
                          salinas_classifier.reducer.transform_block(block)[0])
    with pytest.raises(BandCountError, match="has 200 bands but the model was trained on a raster with 224"):
        loaded.check_band_count(200)
    # The default split holds ground out, so the model is fused with its forest and SVM, its map smoothed
    # over the radius Salinas-A's fields agree over and its classes weighted: format 6, which a plugin that
    # would not fuse the SVM refuses.
    header = read_header(str(path))
    assert header["format_version"] == 6 and header["fusion"]["trees"] == 100
    assert header["fusion"]["support_vectors"] == loaded.svm.n_support_vectors > 0
    assert header["smoothing"]["radius"] == loaded.smoothing_radius == salinas_classifier.smoothing_radius > 0
    assert np.array_equal(loaded.class_weights, salinas_classifier.class_weights)
    assert header["balance"]["weights"] == salinas_classifier.record.balance["weights"]
    for model in ("forest", "svm"):
        stored, trained = getattr(loaded, model).to_arrays(), getattr(salinas_classifier, model).to_arrays()
        assert stored.keys() == trained.keys() and all(np.array_equal(stored[k], v) for k, v in trained.items())


def _rewrite(source, target, change):
    """Copies a model file, letting ``change(name, bytes)`` replace members (None drops them)."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for item in old.infolist():
            data = change(item.filename, old.read(item.filename))
            if data is not None:
                new.writestr(item.filename, data)
        extra = change("extra", None)
        if extra is not None:
            new.writestr(*extra)


@pytest.fixture
def saved(salinas_classifier, tmp_path):
    path = tmp_path / "model.f3dcnn"
    save_classifier(salinas_classifier, str(path))
    return path


@pytest.mark.slow
def test_not_a_model_and_truncated_files_are_refused(saved, tmp_path):
    text = tmp_path / "notes.f3dcnn"
    text.write_text("hello")
    with pytest.raises(ModelFileError, match="is not a Fast 3D CNN model file"):
        load_classifier(str(text))
    truncated = tmp_path / "truncated.f3dcnn"
    truncated.write_bytes(saved.read_bytes()[: saved.stat().st_size // 2])
    with pytest.raises(ModelFileError):
        load_classifier(str(truncated))
    with pytest.raises(ModelFileError, match="does not exist"):
        load_classifier(str(tmp_path / "missing.f3dcnn"))


@pytest.mark.slow
def test_newer_format_version_asks_for_an_update(saved, tmp_path):
    newer = tmp_path / "newer.f3dcnn"

    def bump(name, data):
        if name != "header.npy":
            return data if name != "extra" else None
        header = np.load(__import__("io").BytesIO(data))
        meta = json.loads(header.tobytes())
        meta["format_version"] = 99
        buffer = __import__("io").BytesIO()
        np.save(buffer, np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
        return buffer.getvalue()

    _rewrite(saved, newer, bump)
    with pytest.raises(ModelFileError, match="format version 99.*update the Fast 3D CNN plugin"):
        read_header(str(newer))


class _Payload:
    def __reduce__(self):
        return (open, (os.environ["PAYLOAD_MARKER"], "w"))


@pytest.mark.slow
def test_a_pickle_payload_never_runs(saved, tmp_path, monkeypatch):
    marker = tmp_path / "payload-ran"
    monkeypatch.setenv("PAYLOAD_MARKER", str(marker))
    crafted = tmp_path / "crafted.f3dcnn"
    buffer = __import__("io").BytesIO()
    np.save(buffer, np.array([_Payload()], dtype=object), allow_pickle=True)
    _rewrite(saved, crafted, lambda name, data: buffer.getvalue() if name == "weight_000.npy" else data)
    with pytest.raises(ModelFileError, match="damaged"):
        load_classifier(str(crafted))
    assert not marker.exists()
    # The same bytes do run when unpickled: the test would catch a loader that allowed pickle.
    pickle.loads(pickle.dumps(_Payload()))
    assert marker.exists()


@pytest.mark.slow
def test_a_format_5_file_maps_with_its_forest_alone(saved, tmp_path, salinas_classifier):
    """Before the SVM took part in the fusion (format 6), a fused model held the forest alone."""
    old = tmp_path / "format5.f3dcnn"

    def downgrade(header):
        header["format_version"] = 5
        del header["fusion"]["support_vectors"]

    with np.load(saved) as archive:
        dropped = {name: None for name in archive.files if name.startswith("svm_")}
    loaded = load_classifier(_with_header(saved, old, downgrade, arrays=dropped))
    assert loaded.svm is None and loaded.forest.n_trees == 100
    assert np.array_equal(loaded.class_weights, salinas_classifier.class_weights)


@pytest.mark.slow
def test_a_format_1_file_still_loads(saved, tmp_path, salinas_classifier):
    """Format 1 kept the classes as three parallel maps and the training figures as 'metadata'."""
    old = tmp_path / "format1.f3dcnn"

    def downgrade(name, data):
        if name != "header.npy":
            return data if name != "extra" and not name.startswith(("forest_", "svm_")) else None
        header = json.loads(np.load(__import__("io").BytesIO(data)).tobytes())
        classes = header.pop("classes")
        header.pop("record")
        header.pop("fusion")
        header.update(format_version=1, class_ids=[c["id"] for c in classes],
                      class_names={str(c["id"]): c["name"] or f"class {c['id']}" for c in classes},
                      class_colors={str(c["id"]): c["color"] for c in classes},
                      metadata={"report": {"overall_accuracy": 0.9}})
        buffer = __import__("io").BytesIO()
        np.save(buffer, np.frombuffer(json.dumps(header).encode(), dtype=np.uint8))
        return buffer.getvalue()

    _rewrite(saved, old, downgrade)
    loaded = load_classifier(str(old))
    assert list(loaded.class_ids) == [1, 10, 11, 12, 13, 14] and loaded.record is None
    assert loaded.classes.name(1) == "Brocoli_green_weeds_1" and loaded.classes.colors == salinas_classifier.classes.colors
    assert all(np.array_equal(a, b) for a, b in zip(loaded.network.get_weights(),
                                                     salinas_classifier.network.get_weights()))


def _with_header(saved, target, change=None, arrays=None):
    """A copy of ``saved`` whose JSON header ``change(header)`` edits and whose members ``arrays``
    ({name: array, or None to drop}) replace."""
    import io

    def rewrite(name, data):
        if name == "extra":
            return None
        member = name[:-4]
        if arrays and member in arrays:
            if arrays[member] is None:
                return None
            buffer = io.BytesIO()
            np.save(buffer, arrays[member])
            return buffer.getvalue()
        if name != "header.npy" or change is None:
            return data
        header = json.loads(np.load(io.BytesIO(data)).tobytes())
        change(header)
        buffer = io.BytesIO()
        np.save(buffer, np.frombuffer(json.dumps(header).encode(), dtype=np.uint8))
        return buffer.getvalue()

    _rewrite(saved, target, rewrite)
    if arrays:  # members the copy did not have yet
        with zipfile.ZipFile(target, "a") as archive:
            for member, array in arrays.items():
                if array is not None and f"{member}.npy" not in archive.namelist():
                    buffer = __import__("io").BytesIO()
                    np.save(buffer, array)
                    archive.writestr(f"{member}.npy", buffer.getvalue())
    return str(target)


@pytest.mark.parametrize("field, value, message", [
    ("window", 100001, r"field 'window' = 100001: must be a whole number from 9 to 31"),
    ("window", -3, r"field 'window' = -3"),
    ("window", 12, r"field 'window' = 12: must be odd"),
    ("window", "11", r"field 'window' = '11'"),
    ("window", None, r"field 'window' = None"),
    ("input_band_count", 10 ** 12, r"field 'input_band_count'"),
    ("dropout", "0.4", r"field 'dropout'"),
    ("padding", "<b>", r"field 'padding'"),
    ("n_weights", 10 ** 9, r"field 'n_weights' = 1000000000: the network has 14 weight arrays"),
    ("classes", [{"id": 1, "name": "a", "color": "#ff0000"}], r"field 'classes'"),
    ("classes", [{"id": 1}, {"id": 1}], r"field 'classes.id' = 1: class ids must be distinct"),
    ("classes", [{"id": 1, "color": "#ff0000\"><script>"}, {"id": 2}], r"field 'classes.color'"),
    ("classes", [{"id": 1, "name": "x" * 500}, {"id": 2}], r"field 'classes.name'"),
    ("record", "text", r"field 'record'"),
    ("fusion", "text", r"field 'fusion'"),
    ("smoothing", "text", r"field 'smoothing'"),
    ("smoothing", {"method": "m", "radius": 10 ** 6}, r"field 'radius' = 1000000: must be a whole number from 1 to 5"),
    ("balance", "text", r"field 'balance'"),
    ("balance", {"method": "m", "weights": [1, 2]}, r"field 'weights' = \[1, 2\]: must be 6 numbers from 1 to 1e\+06"),
    ("balance", {"method": "m", "weights": [1, 2, 3, 4, 5, 1e300]}, r"field 'weights'"),
    ("balance", {"method": "m", "weights": [1, 2, 3, 4, 5, "6"]}, r"field 'weights'"),
])
@pytest.mark.slow
def test_crafted_headers_are_refused_before_anything_is_built(saved, tmp_path, field, value, message):
    crafted = _with_header(saved, tmp_path / "crafted.f3dcnn",
                           lambda header: header.update({field: value}) if value is not None else header.pop(field))
    with pytest.raises(ModelFileError, match=f"crafted.f3dcnn' is damaged .*{message}.*train it again"):
        load_classifier(crafted)


@pytest.mark.parametrize("arrays, message", [
    ({"weight_008": np.zeros((2 ** 20, 256), np.float32)}, r"field 'weight_008' = \(1048576, 256\): must have shape"),
    ({"weight_013": None}, r"field 'weight_013' = None"),
    ({"payload": np.zeros(3)}, r"field 'arrays' = \['payload'\]: are not part of a model file"),
    ({"reducer_pca_components": np.zeros((10 ** 4, 3))}, r"field 'reducer_pca_components'"),
    ({"reducer_band_indices": np.append(np.arange(203), 5000)},
     r"field 'reducer_band_indices' = 5000: bands must lie from 0 to 223"),
    ({"forest_values": np.zeros((5, 6), np.float32)}, r"field 'forest_values' = \(5, 6\): must have shape"),
    ({"forest_node_counts": np.ones(10 ** 5, np.int64)}, r"field 'forest_node_counts' = \(100000,\)"),
    ({"forest_depths": None}, r"field 'forest_depths' = None"),
    ({"svm_support_vectors": np.zeros((10, 5), np.float32)}, r"field 'svm_support_vectors' = \(10, 5\): must hold"),
    ({"svm_coefficients": np.zeros((5, 15), np.float32)}, r"field 'svm_coefficients' = \(5, 15\): must have shape"),
    ({"svm_columns": np.arange(7)}, r"field 'svm_columns' = \(7,\): must list 2 to 6 classes"),
    ({"svm_gamma": None}, r"field 'svm_gamma' = None"),
])
@pytest.mark.slow
def test_arrays_of_the_wrong_shape_are_refused_unread(saved, tmp_path, arrays, message):
    crafted = _with_header(saved, tmp_path / "crafted.f3dcnn", arrays=arrays)
    with pytest.raises(ModelFileError, match=message):
        load_classifier(crafted)


def test_weight_shapes_are_those_the_builder_creates():
    from fast3dcnn_qgis.core.model_header import weight_shapes
    from fast3dcnn_qgis.core.network import build_fast3dcnn

    for window, bands, classes in ((9, 15, 2), (11, 20, 6), (25, 30, 16)):
        built = [tuple(w.shape) for w in build_fast3dcnn(window, bands, classes).get_weights()]
        assert weight_shapes(window, bands, classes) == built


@pytest.mark.parametrize("name, change, message", [
    ("support_vectors", lambda a: a.__setitem__((0, 0), np.inf), "svm_support_vectors must hold finite numbers"),
    ("scale", lambda a: a.__setitem__(0, 0), "svm_scale and svm_gamma must be positive"),
    ("columns", lambda a: a.__setitem__(0, 3), "svm_columns .* must be 2 to 6 increasing class columns"),
])
@pytest.mark.slow
def test_an_svm_of_impossible_numbers_is_refused(saved, tmp_path, name, change, message):
    with np.load(saved) as archive:
        array = archive[f"svm_{name}"].copy()
    change(array)
    crafted = _with_header(saved, tmp_path / "crafted.f3dcnn", arrays={f"svm_{name}": array})
    for read in (load_classifier, describe_model):
        with pytest.raises(ModelFileError, match=f"damaged .*field 'svm'.*{message}"):
            read(crafted)


@pytest.mark.parametrize("name, change, message", [
    ("children", lambda a: a.__setitem__((0, 0), 0), "forest_children must point from each node to later nodes"),
    ("children", lambda a: a.__setitem__((0, 1), 10 ** 9), "forest_children must point"),
    ("features", lambda a: a.__setitem__(0, 5000), "forest_features must be bands from 0 to 203"),
    ("values", lambda a: a.__setitem__((-1, 0), np.nan), "forest_values must be class shares"),
    ("node_counts", lambda a: a.__setitem__(0, a[0] + 1), "forest_node_counts .* must count every node"),
])
@pytest.mark.slow
def test_a_forest_whose_walks_could_leave_its_trees_is_refused(saved, tmp_path, name, change, message):
    """The compiled trees read nodes without bounds checks: the loader must refuse any array that
    would send a pixel outside its tree, or read a band the spectra do not have."""
    with np.load(saved) as archive:
        array = archive[f"forest_{name}"].copy()
    change(array)
    crafted = _with_header(saved, tmp_path / "crafted.f3dcnn", arrays={f"forest_{name}": array})
    for read in (load_classifier, describe_model):  # what classify and modelinfo read
        with pytest.raises(ModelFileError, match=f"damaged .*field 'forest'.*{message}"):
            read(crafted)
