"""A trained classifier: everything needed to turn raw pixels of a raster into class ids.

It bundles the spectral reduction, the network, the window and padding, and the user's classes
(ids, names, colours), plus the record of its training (settings, accuracy, inputs, software) that
travels with it in the model file.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from .bands import check_band_count
from .classes import ClassTable
from .forest import PixelForest
from .pixel_svm import PixelSVM
from .record import RunRecord
from .reduction import SpectralReducer
from .smoothing import map_halo

if TYPE_CHECKING:
    import keras


@dataclass
class Fast3DCNNClassifier:
    reducer: SpectralReducer
    network: "keras.Model"     # the patch network of Table I
    window: int
    classes: ClassTable        # network output i is the i-th class of the table
    input_band_count: int
    padding: str = "zero"
    record: RunRecord | None = None  # how it was trained and how well it did, when known
    # The random forest whose class probabilities the map averages with the network's (core.forest),
    # or None: the network alone.
    forest: PixelForest | None = None
    # The SVM whose class probabilities the map averages with them too (core.pixel_svm), or None: a model
    # trained before it took part (format 5 or older) or not fused.
    svm: PixelSVM | None = None
    # The radius the map's probabilities are smoothed over (core.smoothing), 0: not smoothed.
    smoothing_radius: int = 0
    # Each class's weight in the map's decision (core.class_balance), None: the probabilities as they are.
    class_weights: np.ndarray | None = None

    @property
    def halo(self) -> int:
        """The halo each block of a scene to classify needs (core.smoothing.map_halo)."""
        return map_halo(self.window, self.smoothing_radius)

    @property
    def class_ids(self) -> np.ndarray:
        return self.classes.ids

    @property
    def dropout(self) -> float:
        """The dropout rate the network was built with."""
        return float(self.network.get_layer("dropout_1").rate)

    def check_band_count(self, band_count: int, source: str = "the raster") -> None:
        check_band_count(band_count, self.input_band_count, source)

    def reading_kept_bands(self) -> "Fast3DCNNClassifier":
        """This classifier for a raster that holds only the bands it keeps, in order (a raster whose
        bands were matched to the model's by wavelength and selected)."""
        reducer = copy.copy(self.reducer)
        reducer.band_indices = np.arange(len(self.reducer.band_indices))
        return replace(self, reducer=reducer, input_band_count=len(reducer.band_indices))
