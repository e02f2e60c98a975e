"""Training states kept on disk, so that a training killed with QGIS or ``qgis_process`` goes on where it
stopped when the same command runs again, and ends in the model an uninterrupted run would have given.

A folder holds one file per training (the first network and each co-training round), named by a
fingerprint of everything the training depends on: the reduced scene, the pixels and their targets,
the split, the settings, the arithmetic and the software. A rerun with the same inputs finds its
files; any other input or setting finds none and starts afresh, so a stale state is never resumed.
A state holds every variable of the network (its weights and the seeds of its dropout layers), the
optimiser's, the noise generator's position, the history and the best epoch so far: with the batch
order replayed from its seed, the resumed epochs compute what the lost ones would have. Files are
arrays and JSON in an ``.npz`` read without pickles, written under a temporary name and renamed.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from typing import Any, cast

import numpy as np

from .files import written_atomically

#: A state is written after every this many epochs, and when a training ends: at most this many
#: epochs are lost to a kill (writing Indian Pines' state at S = 11, 16 MB, took 17 ms on a 2-core Xeon).
CHECKPOINT_EVERY = 5
#: Rows of the reduced cube hashed at a time, so that a memory-mapped cube is never read whole.
_HASH_ROWS = 64


class Checkpoints:
    """The training states of one scene's run, in ``folder`` (created when the first is written)."""

    def __init__(self, folder: str, every: int = CHECKPOINT_EVERY):
        self.folder, self.every = os.path.abspath(folder), every
        self._scene = b""
        self._announced = False  # the log says where the states go once a run, not once a training

    @classmethod
    def beside(cls, path: str) -> Checkpoints:
        """The checkpoints of the training whose model file will be ``path``: a hidden folder next to it
        and to its temporary file (core.files), found again by a rerun that writes the same file."""
        folder, name = os.path.split(os.path.abspath(path))
        return cls(os.path.join(folder, f".{name}.checkpoints"))

    def bind(self, cube: np.ndarray) -> Checkpoints:
        """Ties the states to the reduced scene ``cube`` (H, W, B): a different cube finds none."""
        digest = hashlib.blake2b(repr((cube.shape, str(cube.dtype))).encode(), digest_size=20)
        for top in range(0, cube.shape[0], _HASH_ROWS):
            digest.update(np.ascontiguousarray(cube[top:top + _HASH_ROWS]).tobytes())
        self._scene = digest.digest()
        return self

    def state_file(self, arrays: tuple[np.ndarray, ...], settings: dict[str, Any]) -> StateFile:
        """The file of the training of ``arrays`` (its pixels, targets and split) under ``settings``."""
        import keras  # here, not above: the plugin names the folder before its dependencies are loaded

        digest = hashlib.blake2b(self._scene, digest_size=16)
        digest.update(json.dumps({**settings, "keras": keras.__version__, "backend": keras.backend.backend()},
                                 sort_keys=True).encode())
        for array in arrays:
            array = np.ascontiguousarray(array)
            digest.update(repr((array.shape, str(array.dtype))).encode() + array.tobytes())
        announce, self._announced = not self._announced, True
        return StateFile(os.path.join(self.folder, f"training-{digest.hexdigest()}.npz"), self.every, announce)

    def remove(self) -> None:
        """Removes the folder: called once the model file is written, when nothing is left to resume."""
        shutil.rmtree(self.folder, ignore_errors=True)


class StateFile:
    """One training's state on disk."""

    def __init__(self, path: str, every: int, announce: bool = True):
        self.path, self.every, self.announce = path, every, announce

    def due(self, epochs_done: int, finished: bool) -> bool:
        return finished or epochs_done % self.every == 0

    def save(self, meta: dict[str, Any], groups: dict[str, list[np.ndarray]]) -> None:
        """Writes ``meta`` (JSON) and the named lists of arrays ``groups``, replacing the older state.
        Raises OSError where it cannot (a full disk), leaving no empty folder behind."""
        folder = os.path.dirname(self.path)
        arrays = {f"{name}/{index}": np.asarray(value) for name, values in groups.items()
                  for index, value in enumerate(values)}
        counts = {name: len(values) for name, values in groups.items()}
        try:
            os.makedirs(folder, exist_ok=True)
            with written_atomically(self.path, binary=True) as stream:
                # Any: numpy's stubs would take an array named like one of savez's own keywords for it.
                np.savez(stream, **cast(dict[str, Any], {"meta": np.array(json.dumps({**meta, "counts": counts})),
                                                         **arrays}))
        except OSError:
            if os.path.isdir(folder) and not os.listdir(folder):
                os.rmdir(folder)
            raise

    def load(self) -> tuple[dict[str, Any], dict[str, list[np.ndarray]]] | None:
        """(meta, groups) as saved, or None where there is no state (or an unreadable one)."""
        try:
            with np.load(self.path, allow_pickle=False) as stored:
                meta = json.loads(str(stored["meta"]))
                return meta, {name: [stored[f"{name}/{index}"] for index in range(count)]
                              for name, count in meta.pop("counts").items()}
        except (OSError, KeyError, ValueError):
            return None
