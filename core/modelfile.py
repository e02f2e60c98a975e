"""The model file: one ``.f3dcnn`` file (a numpy ``.npz`` archive) holding a whole classifier.

It stores the network weights as plain arrays and everything else as arrays or JSON text, never
pickled objects or Keras configurations: the classes and the training record in their own JSON
forms (format 2; format 1 kept them as parallel dicts and is still read). Loading reads it with ``allow_pickle=False`` and rebuilds
the network from this package's own builder, so a model file from anyone can never run code: a
crafted pickle or Keras Lambda layer has nowhere to go.
"""
import json
import zipfile

import numpy as np

from .classes import ClassTable
from .classifier import Fast3DCNNClassifier
from .errors import InputError
from .files import written_atomically
from .network import build_fast3dcnn
from .record import RunRecord
from .reduction import SpectralReducer

FORMAT = "fast3dcnn-model"
FORMAT_VERSION = 2
EXTENSION = ".f3dcnn"


class ModelFileError(InputError):
    """A file that is not a readable model file of this plugin."""


def save_classifier(classifier, path):
    """Writes ``classifier`` to ``path`` through a temporary file renamed when complete."""
    weights = classifier.network.get_weights()
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "window": int(classifier.window),
        "padding": classifier.padding,
        "dropout": classifier.dropout,
        "classes": classifier.classes.to_json(),
        "input_band_count": int(classifier.input_band_count),
        "n_weights": len(weights),
        "record": None if classifier.record is None else classifier.record.to_json(),
    }
    arrays = {f"reducer_{k}": v for k, v in classifier.reducer.to_arrays().items()}
    arrays.update({f"weight_{i:03d}": w for i, w in enumerate(weights)})
    arrays["header"] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    with written_atomically(path, binary=True) as stream:
        np.savez_compressed(stream, **arrays)


def read_header(path):
    """The JSON header of a model file, checked for format and version, without building the network."""
    return _open(path)[1]


def _open(path):
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


def load_classifier(path):
    """The classifier stored in ``path``; raises ``ModelFileError`` for anything else."""
    archive, header = _open(path)
    try:
        with archive:
            reducer = SpectralReducer.from_arrays(
                {k[len("reducer_"):]: archive[k] for k in archive.files if k.startswith("reducer_")})
            weights = [archive[f"weight_{i:03d}"] for i in range(header["n_weights"])]
        classes = _classes(header)
        record = RunRecord.from_json(header["record"]) if header.get("record") else None
        network = build_fast3dcnn(header["window"], reducer.n_components, len(classes), header["dropout"])
        expected = [tuple(w.shape) for w in network.weights]
        if [tuple(w.shape) for w in weights] != expected:
            raise ModelFileError(f"model file '{path}' is damaged: its weights do not fit its network; "
                                 f"train it again or ask for a new copy")
        network.set_weights(weights)
    except ModelFileError:
        raise
    except (KeyError, ValueError, TypeError, zipfile.BadZipFile, EOFError, OSError) as error:
        raise ModelFileError(f"model file '{path}' is damaged or truncated ({error}): train it again "
                             f"or ask for a new copy") from None
    return Fast3DCNNClassifier(
        reducer=reducer, network=network, window=header["window"], classes=classes,
        input_band_count=header["input_band_count"], padding=header["padding"], record=record)


def _classes(header):
    """The class table of a format 2 header, or of format 1's parallel id, name and colour dicts."""
    if header["format_version"] >= 2:
        return ClassTable.from_json(header["classes"])
    return ClassTable.from_ids(header["class_ids"], header["class_names"], header["class_colors"])
