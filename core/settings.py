"""Every limit, default and split rule of the method, written once and free of Keras.

The network, training, the splits and the plugin's parameters all read them from here, so QGIS can
build its dialogs and reject bad input before TensorFlow is ever loaded, and a limit changed here
changes everywhere. The numbers are the paper's (Ahmad, 2020): Table I's layers, Adam at 1e-3,
batch 256, 50 epochs, 20 components, an 11 x 11 window; dropout 0.4 is the author's code.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Generic, TypeVar

from .errors import InputError

_Number = TypeVar("_Number", int, float)

#: (filters, spectral kernel depth) of the four Conv3D layers; spatial kernels are all 3 x 3.
CONV_LAYERS = ((8, 7), (16, 5), (32, 3), (64, 3))
DENSE_UNITS = (256, 128)


@dataclass(frozen=True)
class Limit(Generic[_Number]):
    """A setting's default and its allowed range (``maximum`` None: unbounded)."""
    default: _Number
    minimum: _Number
    maximum: _Number | None = None

    def admits(self, value: float) -> bool:
        return value >= self.minimum and (self.maximum is None or value <= self.maximum)


#: The four valid 3 x 3 convolutions consume 8 pixels of the window, so it must be at least 9.
WINDOW = Limit(11, 2 * len(CONV_LAYERS) + 1, 31)
#: The spectral kernels consume 7 + 5 + 3 + 3 - 4 = 14 components: at least 15 must enter.
COMPONENTS = Limit(20, sum(depth - 1 for _, depth in CONV_LAYERS) + 1, 200)
EPOCHS = Limit(50, 1, 10000)
BATCH_SIZE = Limit(256, 1, 65536)
LEARNING_RATE = Limit(1e-3, 1e-7, 1.0)
DROPOUT = Limit(0.4, 0.0, 0.9)
SEED = Limit(0, 0)
#: Epochs without a better validation accuracy before training stops (0: never stop early).
PATIENCE = Limit(10, 0, 10000)

PADDINGS = ("zero", "reflect")
#: How Adam's learning rate moves: held at LEARNING_RATE (the paper), or the cosine schedule
#: (core.training), rising to it over the first epoch and falling to 1% of it at the last.
SCHEDULES = ("constant", "cosine")
#: How the ReLU layers' first weights are drawn: Keras's default, Glorot's (what the author's code
#: got), or He's, whose variance 2 / fan-in keeps the signal's size through ReLU layers (He et al.,
#: 2015) where Glorot's shrinks it layer by layer: on Indian Pines' paper split (S = 11, tiles, the
#: same 30-epoch cosine schedule, seed 0) He's reached 98.1% OA after 20 epochs and 99.0% after 30,
#: Glorot's 95.9% and 97.5%.
INITIALIZERS = ("glorot_uniform", "he_normal")
#: The arithmetic of training: "auto" is mixed bfloat16 where the hardware computes it natively
#: (core.precision), else float32; the saved weights are float32 either way.
PRECISIONS = ("auto", "float32", "mixed_bfloat16")
#: How a training batch is computed: over tiles that share their convolutions (core.tile_training),
#: patch by patch, or ("auto") on tiles where they save enough multiply-adds (MIN_TILING_GAIN), except
#: on the disjoint split: there patches took Indian Pines from 49.5% to 51.5% OA (seeds 0-5, better
#: in 5 of 6; Salinas-A 98.2% either way) for twice the training time.
LAYOUTS = ("auto", "tiles", "patches")
#: "auto" takes tiles when they save at least this factor of multiply-adds. A batch of tiles holds
#: pixels of fewer neighbourhoods than a batch of random patches, which can cost epochs: below 1.5
#: times (scattered pixels, a few per tile) that is not worth it. On Indian Pines' paper split tiles
#: of 8 x 8 save 2.0 times at S = 11 and 3.7 at S = 21.
MIN_TILING_GAIN = 1.5
#: Whether the network is trained again with pseudo-labels where it and the SVM baseline agree
#: (core.cotraining): "auto" on the held-out splits (HELD_OUT_SPLITS), where the test ground is new ground.
COTRAINING_MODES = ("auto", "on", "off")
#: Whether the model file keeps the random forest baseline and the map is the mean of its and the
#: network's class probabilities (core.forest): "auto" on the held-out splits, where it beat each alone
#: (on a random split the network alone is near 99% and the forest near 80%).
FUSION_MODES = ("auto", "on", "off")
#: Whether the map is smoothed over the radius the training labels agree over (core.smoothing): "auto"
#: on the held-out splits; on a random split a test pixel's neighbours are mostly training pixels, whose
#: labels the network has learnt, so its figures would flatter the map.
SMOOTHING_MODES = ("auto", "on", "off")
#: Whether the map's classes are weighed against their training shares (core.class_balance): "auto" on
#: the held-out splits, where the ground's class shares are not the training pixels'; a random split
#: draws its test pixels in the training shares, which the unweighed map already suits.
BALANCE_MODES = ("auto", "on", "off")
#: How the PCA scores are scaled (see reduction.py): each to unit variance, or all by the first's.
COMPONENT_SCALES = ("each", "first")
#: In the order of the training dialog's list, which graphical models and scripts refer to by
#: position: new methods go at the end.
SPLIT_METHODS = ("paper", "fraction", "count", "disjoint", "grouped", "auto")
#: The splits that hold out ground the training never sees (core.splits); "auto" is one of them
#: whichever it picks. The default: figures from pixels next to the training pixels flatter a map.
HELD_OUT_SPLITS = ("disjoint", "grouped", "auto")
DEFAULT_SPLIT = "auto"
#: The held-out splits' test share when none is given.
DISJOINT_TEST_FRACTION = 0.3


def check_window(window: int, raster_size: tuple[int, int] | None = None) -> None:
    """Raises InputError unless ``window`` is odd, within WINDOW's range and (given ``raster_size``,
    (width, height)) no larger than the raster's smaller side."""
    if not WINDOW.admits(window):
        raise InputError(f"window size {window} is not an odd number from {WINDOW.minimum} to {WINDOW.maximum}: "
                         f"the network's four 3 x 3 convolutions need at least {WINDOW.minimum} (the paper uses "
                         f"{WINDOW.default})")
    if window % 2 != 1:
        raise InputError(f"window size {window} is even: the window must be odd so that it centres on its pixel; "
                         f"use {window - 1} or {window + 1}")
    if raster_size is not None and window > min(raster_size):
        width, height = raster_size
        raise InputError(f"window size {window} is larger than the raster ({width} x {height} pixels): "
                         f"choose a smaller odd window, at most the raster's smaller side")


def check_components(components: int, kept_bands: int | None = None, excluded: str | None = "") -> None:
    """Raises InputError unless ``components`` suits the network and, given ``kept_bands`` (left
    after excluding the bands ``excluded``), the bands."""
    if components < COMPONENTS.minimum:
        raise InputError(f"{components} components are too few for the network's spectral convolutions: "
                         f"use at least {COMPONENTS.minimum} (the paper uses {COMPONENTS.default})")
    if kept_bands is not None and components > kept_bands:
        after = f" after excluding '{excluded}'" if excluded else ""
        raise InputError(f"{components} components asked for, but only {kept_bands} bands are kept{after}: "
                         f"choose at most {kept_bands} components or exclude fewer bands")


def split_value_problem(method: str, value: float | None) -> str | None:
    """What is wrong with ``value`` for the split ``method`` (the fix included), or None."""
    if method not in SPLIT_METHODS:
        return f"split method '{method}' is not one of {', '.join(SPLIT_METHODS)}"
    if method == "fraction" and (value is None or not 0 < value < 1):
        return "the fraction split needs the training share of each class, between 0 and 1 (e.g. 0.1)"
    if method == "count" and (value is None or value < 1 or value != int(value)):
        return "the count split needs a whole number of training pixels per class, 1 or more (e.g. 50)"
    if method in HELD_OUT_SPLITS and value is not None and not 0 < value < 1:
        return (f"the {method} split needs the test share of each class, between 0 and 1 "
                f"(default {DISJOINT_TEST_FRACTION})")
    return None


#: The training recipes: the TrainingConfig fields each sets (tests/benchmarks/bench_disjoint.py
#: measures them). "paper": the paper's recipe as this plugin always ran it. "robust", the default,
#: holds up better on ground away from the training pixels (the disjoint split), where the paper's
#: recipe learns the look of the training fields: the scores are scaled by the first component's
#: deviation only and the training patches get spectral noise, so the weak components, where fields
#: differ most, weigh less; on the disjoint split the validation pixels whose patch reaches no test
#: pixel are trained on too (they lie next to the test segment), and the PCA is fitted on bands
#: standardised over the scene (AA on the disjoint split 52.0% -> 56.0%, OA unchanged at 54.7%, paper
#: split 99.06% against 99.14%: see reduction.py). It also trains faster: He's first
#: weights and a cosine learning-rate schedule peaking at 0.0025 reach in 40 epochs what the paper's
#: constant 0.001 and Glorot's weights reach in 50 (Indian Pines, paper split, S = 11: 99.14% OA,
#: seeds 0-2; after 28 epochs 98.8%, which is why it keeps 40; disjoint split 54.6% against 51.6%).
#: On the held-out splits it trains the network again, one round of a quarter of the epochs, with the
#: pixels where it and the SVM baseline agree (core.cotraining), which lifted every Indian Pines seed,
#: and its map is fused with the random forest baseline's (core.forest) and smoothed over the radius
#: its training labels agree over (core.smoothing), its classes weighed against their training
#: shares (core.class_balance).
RECIPES: dict[str, dict[str, Any]] = {
    "paper": {"epochs": EPOCHS.default, "component_scale": "each", "standardise_bands": False,
              "validation_into_training": False,
              "spectral_noise": 0.0, "patience": 0, "layout": "patches", "precision": "float32",
              "initializer": "glorot_uniform", "learning_rate": LEARNING_RATE.default, "schedule": "constant",
              "validation_every": 1, "cotraining": "off", "fusion": "off", "smoothing": "off",
              "balance": "off"},
    "robust": {"epochs": 40, "component_scale": "first", "standardise_bands": True,
               "validation_into_training": True,
               "spectral_noise": 0.02, "patience": PATIENCE.default, "layout": "auto", "precision": "auto",
               "initializer": "he_normal", "learning_rate": 2.5e-3, "schedule": "cosine", "validation_every": 2,
               "cotraining": "auto", "fusion": "auto", "smoothing": "auto",
               "balance": "auto"},
}
DEFAULT_RECIPE = "robust"


@dataclass
class TrainingConfig:
    """How the network is trained; the defaults are the recipe DEFAULT_RECIPE's, the other values
    the paper's."""
    window: int = WINDOW.default
    epochs: int = RECIPES[DEFAULT_RECIPE]["epochs"]
    batch_size: int = BATCH_SIZE.default
    learning_rate: float = RECIPES[DEFAULT_RECIPE]["learning_rate"]  # the cosine schedule's peak
    schedule: str = RECIPES[DEFAULT_RECIPE]["schedule"]  # one of SCHEDULES
    dropout: float = DROPOUT.default
    padding: str = "zero"
    seed: int = SEED.default
    keep_best: bool = False  # restore the weights of the epoch with the best validation accuracy
    # Stop once this many epochs pass without a better validation accuracy, keeping the best
    # epoch's weights (0: train every epoch); EPOCHS is then the most that are run.
    patience: int = RECIPES[DEFAULT_RECIPE]["patience"]
    # Score the validation pixels every N epochs (and after the last): they decide early stopping and
    # the weights kept, and scoring them every epoch costs an eighth of an S = 11 run on Indian Pines
    # (robust: every second epoch, 48.8 -> 42.5 s for the same accuracy; Salinas-A 4.3 -> 5.1 s, as
    # "every validation pixel right" is then seen an epoch later on average).
    validation_every: int = RECIPES[DEFAULT_RECIPE]["validation_every"]
    # How the PCA scores are scaled, one of COMPONENT_SCALES (see reduction.py).
    component_scale: str = RECIPES[DEFAULT_RECIPE]["component_scale"]
    # Fit the PCA on bands standardised over the scene (the correlation matrix; see reduction.py).
    standardise_bands: bool = RECIPES[DEFAULT_RECIPE]["standardise_bands"]
    # On the disjoint split, train on the validation pixels too (see splits.validation_into_training).
    validation_into_training: bool = RECIPES[DEFAULT_RECIPE]["validation_into_training"]
    # Standard deviation of the noise added to the training patches (see patches.add_spectral_noise).
    spectral_noise: float = RECIPES[DEFAULT_RECIPE]["spectral_noise"]
    precision: str = RECIPES[DEFAULT_RECIPE]["precision"]  # one of PRECISIONS
    layout: str = RECIPES[DEFAULT_RECIPE]["layout"]        # one of LAYOUTS
    initializer: str = RECIPES[DEFAULT_RECIPE]["initializer"]  # one of INITIALIZERS
    cotraining: str = RECIPES[DEFAULT_RECIPE]["cotraining"]  # one of COTRAINING_MODES
    fusion: str = RECIPES[DEFAULT_RECIPE]["fusion"]  # one of FUSION_MODES
    smoothing: str = RECIPES[DEFAULT_RECIPE]["smoothing"]  # one of SMOOTHING_MODES
    balance: str = RECIPES[DEFAULT_RECIPE]["balance"]  # one of BALANCE_MODES
    # The recipe these values come from (its name, for the record).
    recipe_name: str = DEFAULT_RECIPE

    @classmethod
    def recipe(cls, name: str, **fields: Any) -> "TrainingConfig":
        """The configuration of the recipe ``name`` (a key of RECIPES), ``fields`` overriding it."""
        if name not in RECIPES:
            raise InputError(f"training recipe '{name}' is not one of {', '.join(RECIPES)}")
        return cls(**{**RECIPES[name], "recipe_name": name, **fields})

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainingSettings:
    """The whole recipe: band selection, PCA, split and training."""
    components: int = COMPONENTS.default
    exclude_bands: str = ""
    split: str = DEFAULT_SPLIT
    split_value: float | None = None
    pca_sample_step: int = 1
    baseline: bool = True  # also fit and score an SVM on the same pixels (core/baseline.py)
    training: TrainingConfig = field(default_factory=TrainingConfig)

    def as_dict(self) -> dict[str, Any]:
        """One flat dict of every setting, as the record and the report show them."""
        settings = {"components": self.components, "excluded_bands": self.exclude_bands or "",
                    "split": self.split, "split_value": self.split_value, "baseline": self.baseline}
        settings.update(self.training.as_dict())
        return settings

    def check(self, raster_size: tuple[int, int] | None = None) -> None:
        """Raises InputError for settings that cannot work (on a raster of ``raster_size``), before any work."""
        check_window(self.training.window, raster_size)
        check_components(self.components)
        problem = split_value_problem(self.split, self.split_value)
        if problem:
            raise InputError(problem)
