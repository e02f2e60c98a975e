"""A trained classifier: everything needed to turn raw pixels of a raster into class ids.

It bundles the spectral reduction, the network, the window and padding, and the user's classes
(ids, names, colours), plus metadata (input band count, wavelengths, training settings, accuracy
report, software versions) that travels with it in the model file.
"""
from dataclasses import dataclass, field

import numpy as np

from .reduction import SpectralReducer


class BandCountError(ValueError):
    """A raster whose band count differs from the one the model was trained on."""


@dataclass
class Fast3DCNNClassifier:
    reducer: SpectralReducer
    network: object            # keras.Model, the patch network of Table I
    window: int
    class_ids: np.ndarray      # sorted user class ids; network output i is class_ids[i]
    input_band_count: int
    padding: str = "zero"
    class_names: dict = field(default_factory=dict)   # id -> name
    class_colors: dict = field(default_factory=dict)  # id -> "#rrggbb"
    metadata: dict = field(default_factory=dict)

    def check_band_count(self, band_count, source="the raster"):
        if band_count != self.input_band_count:
            raise BandCountError(
                f"{source} has {band_count} bands but the model was trained on a raster with "
                f"{self.input_band_count} bands: classify a raster from the same sensor with the same "
                f"band set, or train a new model on this raster")

    def class_name(self, class_id):
        return self.class_names.get(int(class_id), f"class {int(class_id)}")
