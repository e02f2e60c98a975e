"""The model file: one ``.f3dcnn`` file (a numpy ``.npz`` archive) holding a whole classifier.

It stores the network weights as plain arrays and everything else as arrays or JSON text, never
pickled objects or Keras configurations: the classes and the training record in their own JSON
forms (format 2; format 1 kept them as parallel dicts and is still read). Loading reads it with ``allow_pickle=False`` and rebuilds
the network from this package's own builder, so a model file from anyone can never run code: a
crafted pickle or Keras Lambda layer has nowhere to go.
"""
import hashlib
import json
import os
import zipfile
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from .bands import format_band_ranges
from .class_balance import BALANCE_METHOD
from .classes import ClassTable
from .errors import InputError
from .files import StrPath, written_atomically
from .forest import FOREST_FUSION_METHOD, FUSION_METHOD, ForestProblem, PixelForest
from .model_header import HeaderProblem, array_shapes, check_arrays, check_balance, check_classes, check_header
from .pixel_svm import PixelSVM, SVMProblem
from .record import RunRecord
from .smoothing import SMOOTHING_METHOD

if TYPE_CHECKING:
    from .classifier import Fast3DCNNClassifier

FORMAT = "fast3dcnn-model"
#: Format 3 adds the forest the map is fused with (core.forest), format 4 the radius the map is
#: smoothed over (core.smoothing), format 5 the classes' weights (core.class_balance), format 6 the SVM
#: fused with the forest (core.pixel_svm); a model is written in the oldest format that holds what it has
#: (without the SVM as 5, without weights as 4, without smoothing as 3, without either or a forest as 2),
#: which older plugins read, while they refuse a model whose map they would not make as it was scored.
FORMAT_VERSION = 6
EXTENSION = ".f3dcnn"
_Read = TypeVar("_Read")


class ModelFileError(InputError):
    """A file that is not a readable model file of this plugin."""


def save_classifier(classifier: "Fast3DCNNClassifier", path: StrPath) -> None:
    """Writes ``classifier`` to ``path`` through a temporary file renamed when complete."""
    weights = classifier.network.get_weights()
    forest, svm, weights_of_classes = classifier.forest, classifier.svm, classifier.class_weights
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION if svm is not None else 5 if weights_of_classes is not None
        else 4 if classifier.smoothing_radius else 3 if forest else 2,
        "window": int(classifier.window),
        "padding": classifier.padding,
        "dropout": classifier.dropout,
        "classes": classifier.classes.to_json(),
        "input_band_count": int(classifier.input_band_count),
        "n_weights": len(weights),
        "record": None if classifier.record is None else classifier.record.to_json(),
        **map_steps(classifier),
    }
    # Any: numpy's savez_compressed also takes allow_pickle=, which mypy fears a ** of arrays might fill.
    arrays: dict[str, Any] = {f"reducer_{k}": v for k, v in classifier.reducer.to_arrays().items()}
    arrays.update({f"weight_{i:03d}": w for i, w in enumerate(weights)})
    arrays.update({f"forest_{k}": v for k, v in (forest.to_arrays() if forest else {}).items()})
    arrays.update({f"svm_{k}": v for k, v in (svm.to_arrays() if forest and svm else {}).items()})
    arrays["header"] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    with written_atomically(path, binary=True) as stream:
        np.savez_compressed(stream, **arrays)


def map_steps(classifier: "Fast3DCNNClassifier") -> dict[str, Any]:
    """The steps after the network that make ``classifier``'s map, as its model file's header holds them:
    ``fusion`` (the forest, and the SVM where it has one), ``smoothing`` and ``balance``, each None where
    the map skips it."""
    forest, svm, weights = classifier.forest, classifier.svm, classifier.class_weights
    return {
        "fusion": forest and ({"method": FOREST_FUSION_METHOD, "trees": forest.n_trees} if svm is None else
                              {"method": FUSION_METHOD, "trees": forest.n_trees,
                               "support_vectors": svm.n_support_vectors}),
        "smoothing": {"method": SMOOTHING_METHOD, "radius": int(classifier.smoothing_radius)}
        if classifier.smoothing_radius else None,
        "balance": None if weights is None else {"method": BALANCE_METHOD, "weights": [float(w) for w in weights]},
    }


def read_header(path: StrPath) -> dict[str, Any]:
    """The JSON header of a model file, checked for format and version, without building the network."""
    return _open(path)[1]


def _open(path: StrPath) -> tuple[np.lib.npyio.NpzFile, dict[str, Any]]:
    not_model = (f"'{path}' is not a Fast 3D CNN model file: choose a {EXTENSION} file written by "
                 f"'Train 3D CNN classifier'")
    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ModelFileError(f"model file '{path}' does not exist: check the path") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise ModelFileError(f"{not_model} ({error})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile) or "header" not in archive.files:
        raise ModelFileError(not_model)
    try:
        header = json.loads(archive["header"].tobytes().decode("utf-8"))
    except (ValueError, UnicodeDecodeError, zipfile.BadZipFile, EOFError, OSError) as error:
        raise ModelFileError(f"{not_model}: its header is damaged ({error})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ModelFileError(not_model)
    version = header.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(
            f"model file '{path}' has format version {version}, newer than the {FORMAT_VERSION} this "
            f"plugin reads: update the Fast 3D CNN plugin to load it")
    return archive, header


def _checked(path: StrPath,
             read: Callable[[np.lib.npyio.NpzFile, dict[str, Any], list[dict[str, Any]]], _Read]) -> _Read:
    """Opens the model file, checks its header and the shape of every array before any array is
    read, then returns ``read(archive, header, classes_json)``; every problem is a ModelFileError
    naming the file and the field."""
    archive, header = _open(path)
    damaged = f"model file '{path}' is damaged or was not written by this plugin"
    try:
        with archive:
            check_header(header)
            classes_json = _classes_json(header)
            check_classes(classes_json)
            check_balance(header.get("balance"), len(classes_json))
            check_arrays(header, array_shapes(archive), len(classes_json))
            band_indices = archive["reducer_band_indices"]
            if band_indices.min() < 0 or band_indices.max() >= header["input_band_count"]:
                raise HeaderProblem("reducer_band_indices", int(band_indices.max()),
                                    f"bands must lie from 0 to {header['input_band_count'] - 1}")
            return read(archive, header, classes_json)
    except HeaderProblem as problem:
        raise ModelFileError(f"{damaged}: {problem}; train it again or ask for a new copy") from None
    except (KeyError, ValueError, TypeError, AttributeError, zipfile.BadZipFile, EOFError, OSError) as error:
        raise ModelFileError(f"{damaged} ({error}): train it again or ask for a new copy") from None


def load_classifier(path: StrPath) -> "Fast3DCNNClassifier":
    """The classifier stored in ``path``; raises ``ModelFileError`` for anything else. The header and
    the shape of every array are checked before any array is read or the network built."""
    # Keras and scikit-learn only here: describe_model and save_classifier need neither.
    from .classifier import Fast3DCNNClassifier
    from .network import build_fast3dcnn
    from .reduction import SpectralReducer

    def read(archive, header, classes_json):
        reducer = SpectralReducer.from_arrays(
            {k[len("reducer_"):]: archive[k] for k in archive.files if k.startswith("reducer_")})
        weights = [archive[f"weight_{i:03d}"] for i in range(header["n_weights"])]
        record = RunRecord.from_json(header["record"]) if header.get("record") else None
        forest, svm = _forest(archive, header, len(classes_json)), _svm(archive, header, len(classes_json))
        return header, reducer, weights, ClassTable.from_json(classes_json), record, forest, svm

    header, reducer, weights, classes, record, forest, svm = _checked(path, read)
    network = build_fast3dcnn(header["window"], reducer.n_components, len(classes), header["dropout"])
    network.set_weights(weights)
    return Fast3DCNNClassifier(
        reducer=reducer, network=network, window=header["window"], classes=classes,
        input_band_count=header["input_band_count"], padding=header["padding"], record=record, forest=forest, svm=svm,
        smoothing_radius=(header.get("smoothing") or {}).get("radius", 0),
        class_weights=np.array(header["balance"]["weights"]) if header.get("balance") else None)


def _forest(archive: np.lib.npyio.NpzFile, header: dict[str, Any], n_classes: int) -> PixelForest | None:
    """The forest of a fused model, its arrays checked (core.forest.PixelForest.check), or None."""
    if not header.get("fusion"):
        return None
    try:
        return PixelForest.from_arrays({k[len("forest_"):]: archive[k] for k in archive.files
                                        if k.startswith("forest_")},
                                       len(archive["reducer_band_indices"]), n_classes)
    except ForestProblem as problem:
        raise HeaderProblem("forest", header["fusion"], str(problem)) from None


def _svm(archive: np.lib.npyio.NpzFile, header: dict[str, Any], n_classes: int) -> PixelSVM | None:
    """The SVM of a model fused with one (format 6), its arrays checked (core.pixel_svm.PixelSVM.check), or None."""
    if "support_vectors" not in (header.get("fusion") or {}):
        return None
    try:
        return PixelSVM.from_arrays({k[len("svm_"):]: archive[k] for k in archive.files if k.startswith("svm_")},
                                    len(archive["reducer_band_indices"]), n_classes)
    except SVMProblem as problem:
        raise HeaderProblem("svm", header["fusion"], str(problem)) from None


def describe_model(path: StrPath) -> dict[str, Any]:
    """What a model file holds, as JSON-ready data, checked like ``load_classifier`` (its forest
    included) but without reading the weights or Keras: the file's size and SHA-256, the network's shape, the bands and
    classes, and the training record (settings, accuracy, baseline, software versions)."""
    def read(archive, header, classes_json):
        shapes = array_shapes(archive)
        _forest(archive, header, len(classes_json))
        _svm(archive, header, len(classes_json))
        band_indices = archive["reducer_band_indices"]
        ratio = archive["reducer_pca_explained_variance_ratio"]
        return {"format_version": header["format_version"], "window": header["window"],
                "padding": header["padding"], "dropout": header["dropout"],
                "input_band_count": header["input_band_count"],
                "kept_bands": format_band_ranges(band_indices), "components": int(len(ratio)),
                "explained_variance_ratio": float(ratio.sum()),
                "parameters": int(sum(np.prod(shapes[f"weight_{i:03d}"]) for i in range(header["n_weights"]))),
                "classes": ClassTable.from_json(classes_json).completed().to_json(),
                "fusion": header.get("fusion"), "smoothing": header.get("smoothing"), "balance": header.get("balance"),
                "record": header.get("record")}

    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return {"file": {"path": os.path.abspath(path), "bytes": size, "sha256": digest.hexdigest()},
            **_checked(path, read)}


def _classes_json(header):
    """The classes in their JSON form: format 2 keeps them so; format 1 as parallel id, name and colour maps."""
    if header["format_version"] >= 2:
        return header.get("classes")
    names, colors = header.get("class_names") or {}, header.get("class_colors") or {}
    return [{"id": class_id, "name": names.get(str(class_id)), "color": colors.get(str(class_id))}
            for class_id in header.get("class_ids") or []]
