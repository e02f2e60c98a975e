"""What a run measured, typed, with the one JSON form the model file, the report and assess share.

A training run and an accuracy assessment both end in accuracy figures for a set of classes, read
from some inputs with some software; training adds its settings, split, curves and timings. One
record type holds either, so the report renders both the same way and a script reads the JSON of
either without special cases: figures under ``accuracy``, classes under ``classes``, the training
parts present only for training.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from .classes import ClassTable

#: A JSON object: text keys, plain JSON values (before ``json_ready``, numpy numbers too).
JsonDict = dict[str, Any]


@dataclass
class RunRecord:
    accuracy: JsonDict                 # core.metrics.accuracy_report: test pixels (training) or reference pixels
    classes: ClassTable
    inputs: JsonDict = field(default_factory=dict)
    versions: JsonDict = field(default_factory=dict)
    # Training only:
    settings: JsonDict | None = None   # TrainingSettings.as_dict(): what the user chose
    model: JsonDict | None = None      # what training found: kept bands, explained variance, parameters
    split: JsonDict | None = None      # method, value, n_train, n_val, n_test, not_tested (ids), description
    history: JsonDict | None = None    # per-epoch loss, accuracy, val_loss, val_accuracy (None: not scored)
    best_epoch: int | None = None      # 0-based epoch whose weights were kept, or None
    stop_reason: str | None = None     # why training ended at its last epoch, in words
    baseline: JsonDict | None = None   # core.baseline.svm_baseline on the same pixels, or None
    forest: JsonDict | None = None     # core.baseline.forest_baseline on the same pixels, or None
    cotraining: JsonDict | None = None  # what co-training with the SVM did (core.workflow._cotrain), or None
    # The map's fusion with the forest (core.workflow._fused): method, trees, the network's own figures;
    # ``accuracy`` is then the fused map's. None: the network alone.
    fusion: JsonDict | None = None
    # How the map is smoothed (core.workflow._smoothed): method, the radius chosen (0: not smoothed) and
    # the training labels' agreement at it, with the unsmoothed figures; None: smoothing was off.
    smoothing: JsonDict | None = None
    # How the map's classes are weighted against their training shares (core.workflow._the_map): method,
    # exponent, the weights, with the unweighted figures; None: not weighted.
    balance: JsonDict | None = None
    timings: JsonDict | None = None
    labelled_pixels: dict[int, int] | None = None  # {class id: labelled pixels in the ground truth}
    n_labelled_invalid_excluded: int = 0
    wavelengths: list[float] | None = None  # per input band, nanometres, or None
    # Assessment only:
    area_estimates: JsonDict | None = None  # core.area_estimation.good_practice_estimates, or {"not_computed": why}
    @property
    def is_training(self) -> bool:
        return self.settings is not None

    def to_json(self) -> JsonDict:
        """A dict of plain JSON values (numpy numbers as Python's, NaN as None)."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["classes"] = self.classes.to_json()
        return json_ready(data)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "RunRecord":
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        values["classes"] = ClassTable.from_json(data.get("classes") or [])
        if values.get("labelled_pixels"):
            values["labelled_pixels"] = {int(k): v for k, v in values["labelled_pixels"].items()}
        return cls(**values)


def json_ready(value: Any) -> Any:
    """``value`` with numpy scalars and arrays as Python numbers and lists, NaN as None."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [json_ready(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(value) else float(value)
    return value
