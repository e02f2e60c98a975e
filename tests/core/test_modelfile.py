import json
import os
import pickle
import zipfile

import numpy as np
import pytest

from fast3dcnn_qgis.core.classifier import BandCountError
from fast3dcnn_qgis.core.modelfile import ModelFileError, load_classifier, read_header, save_classifier

from .conftest import SALINAS_BAD_BANDS


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


def test_a_format_1_file_still_loads(saved, tmp_path, salinas_classifier):
    """Format 1 kept the classes as three parallel maps and the training figures as 'metadata'."""
    old = tmp_path / "format1.f3dcnn"

    def downgrade(name, data):
        if name != "header.npy":
            return data if name != "extra" else None
        header = json.loads(np.load(__import__("io").BytesIO(data)).tobytes())
        classes = header.pop("classes")
        header.pop("record")
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
