"""Training on a small synthetic scene where each class has its own spectrum, so a few epochs learn it, and on
the shipped Salinas-A scene."""
import numpy as np
import pytest

from fast3dcnn_qgis.core.blocks import array_blocks
from fast3dcnn_qgis.core.errors import Cancelled
from fast3dcnn_qgis.core.patches import PatchDataset
from fast3dcnn_qgis.core.progress import CallbackReporter
from fast3dcnn_qgis.core.settings import TrainingConfig, TrainingSettings
from fast3dcnn_qgis.core.splits import labelled_pixels, make_split
from fast3dcnn_qgis.core.training import _learning_rate, train_network
from fast3dcnn_qgis.core.workflow import Scene, train_classifier

from .conftest import SALINAS_BAD_BANDS


@pytest.fixture(scope="module")
def scene():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.repeat(rng.integers(1, 4, size=(6, 6)), 5, axis=0), 5, axis=1)
    signatures = rng.normal(size=(4, 16))
    cube = (signatures[labels] + 0.3 * rng.normal(size=labels.shape + (16,))).astype(np.float32)
    rows, cols, y = labelled_pixels(labels)
    split = make_split(rows, cols, y, "paper", seed=0)
    return cube, rows, cols, y - 1, split


def _train(scene, **kwargs):
    cube, rows, cols, targets, split = scene
    config = TrainingConfig(window=9, epochs=kwargs.pop("epochs", 2), batch_size=64, **{"patience": 0, **kwargs})
    return train_network(cube, rows, cols, targets, split, 3, config)


def _val_accuracy(network, scene):
    """The returned patch network's accuracy on the validation pixels, patch by patch."""
    cube, rows, cols, targets, split = scene
    patches = PatchDataset(cube, rows[split.val], cols[split.val], None, 9, 64)
    return float(np.mean(np.argmax(network.predict(patches, verbose=0), axis=-1) == targets[split.val]))


@pytest.mark.slow
def test_learns_reports_history_and_progress(scene):
    percents = []
    cube, rows, cols, targets, split = scene
    result = train_network(cube, rows, cols, targets, split, 3,
                           TrainingConfig(window=9, epochs=3, batch_size=64, patience=0),
                           CallbackReporter(percents.append))
    assert set(result.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 3 for v in result.history.values())
    assert result.history["val_accuracy"][-1] > 0.8
    batches = -(-len(split.train) // 64)
    # After each batch: the share of the three epochs done.
    assert percents == pytest.approx([100 * (batch + 1) / (3 * batches) for batch in range(3 * batches)])


@pytest.mark.slow
def test_same_seed_same_model(scene):
    first = _train(scene, seed=5).model.get_weights()
    second = _train(scene, seed=5).model.get_weights()
    third = _train(scene, seed=6).model.get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    assert not all(np.array_equal(a, b) for a, b in zip(first, third))


@pytest.mark.slow
def test_cancel_stops_between_batches(scene):
    cube, rows, cols, targets, split = scene
    polls = []

    def should_cancel():
        polls.append(1)
        return len(polls) >= 2

    with pytest.raises(Cancelled):
        train_network(cube, rows, cols, targets, split, 3, TrainingConfig(window=9, epochs=50, batch_size=16),
                      CallbackReporter(should_cancel=should_cancel))
    assert len(polls) == 2


@pytest.mark.slow
def test_keep_best_restores_the_best_validation_epoch(scene):
    cube, rows, cols, targets, split = scene
    # float32: the validation accuracy logged in bfloat16 may differ by a pixel from the float32 network's.
    result = train_network(cube, rows, cols, targets, split, 3,
                           TrainingConfig(window=9, epochs=4, batch_size=64, learning_rate=0.05, keep_best=True,
                                          precision="float32", validation_every=1))
    best = int(np.argmax(result.history["val_accuracy"]))
    assert result.best_epoch == best
    assert _val_accuracy(result.model, scene) == pytest.approx(result.history["val_accuracy"][best], abs=1e-6)


@pytest.mark.slow
def test_scoring_validation_less_often_trains_the_same_model(scene):
    every_epoch = _train(scene, epochs=3, seed=2)
    last_only = _train(scene, epochs=3, seed=2, validation_every=3)
    assert all(np.array_equal(a, b) for a, b in zip(every_epoch.model.get_weights(), last_only.model.get_weights()))
    assert last_only.history["val_accuracy"][:2] == [None, None]
    assert last_only.history["val_accuracy"][2] == pytest.approx(every_epoch.history["val_accuracy"][2], abs=1e-6)
    assert last_only.history["loss"] == every_epoch.history["loss"]


@pytest.mark.slow
def test_training_with_spectral_noise_still_learns(scene):
    result = _train(scene, epochs=3, spectral_noise=0.1)
    assert result.history["val_accuracy"][-1] > 0.8


@pytest.mark.slow
def test_stops_when_validation_accuracy_stops_improving_and_keeps_the_best_epoch(scene):
    cube, rows, cols, targets, split = scene
    noisy = cube + np.random.default_rng(1).normal(0, 2.0, cube.shape).astype(np.float32)  # no epoch is perfect
    # float32, as above: the kept weights are checked against the accuracy logged for their epoch.
    result = train_network(noisy, rows, cols, targets, split, 3,
                           TrainingConfig(window=9, epochs=40, batch_size=64, patience=2, validation_every=1,
                                          precision="float32"))
    epochs_run = len(result.history["loss"])
    val = result.history["val_accuracy"]
    assert epochs_run < 40 and result.best_epoch == int(np.argmax(val)) and max(val) < 1
    assert epochs_run == result.best_epoch + 3 and max(val[-2:]) <= val[result.best_epoch]
    assert result.stop_reason.startswith(f"stopped after epoch {epochs_run} of at most 40: the validation accuracy "
                                         f"had not improved for 2 epochs since epoch {result.best_epoch + 1}")
    assert _val_accuracy(result.model, (noisy, rows, cols, targets, split)) == pytest.approx(val[result.best_epoch],
                                                                                             abs=1e-6)


@pytest.mark.slow
def test_stops_as_soon_as_every_validation_pixel_is_right(salinas):
    cube, labels = salinas
    settings = TrainingSettings(exclude_bands=SALINAS_BAD_BANDS, baseline=False, split="paper",
                                training=TrainingConfig(window=9, epochs=40, patience=5))
    record = train_classifier(Scene(lambda: array_blocks(cube, 32), *cube.shape, labels), settings).record
    val = record.history["val_accuracy"]
    # The default recipe scores the validation pixels after every second epoch.
    assert val[0] is None and val[1] is not None and len(val) % 2 == 0
    scored = [value for value in val if value is not None]
    assert scored[-1] == 1.0 and max(scored[:-1], default=0) < 1.0 and len(val) < 40
    assert record.stop_reason == f"stopped after epoch {len(val)} of at most 40: every validation pixel was " \
                                 f"classified correctly"
    assert record.best_epoch == len(val) - 1


@pytest.mark.slow
def test_without_validation_pixels_every_epoch_is_trained_and_the_report_says_why(scene):
    cube, rows, cols, targets, split = scene
    no_val = type(split)(split.train, split.val[:0], split.test, "disjoint", None)
    result = train_network(cube, rows, cols, targets, no_val, 3, TrainingConfig(window=9, epochs=3, patience=1))
    assert len(result.history["loss"]) == 3 and result.best_epoch is None
    assert "no validation pixels" in result.stop_reason


@pytest.mark.parametrize("layout", ["tiles", "patches"])
@pytest.mark.slow
def test_mixed_bfloat16_training_learns_and_returns_a_float32_network(scene, layout):
    result = _train(scene, epochs=3, precision="mixed_bfloat16", layout=layout)
    assert result.dtype == "mixed_bfloat16" and result.layout == layout
    assert result.history["val_accuracy"][-1] > 0.8
    assert {layer.dtype_policy.name for layer in result.model.layers[1:]} == {"float32"}


def test_the_cosine_schedule_rises_over_the_first_epoch_then_falls_to_one_percent_at_the_last():
    rate = _learning_rate(TrainingConfig(epochs=10, learning_rate=2e-3, schedule="cosine"), 5)
    rates = np.array([float(rate(step)) for step in range(61)])
    assert rates[0] == 0 and rates[5] == pytest.approx(2e-3)
    assert np.all(np.diff(rates[:6]) > 0) and np.all(np.diff(rates[5:50]) < 0)
    assert rates[49] == pytest.approx(2e-5) and rates[60] == pytest.approx(2e-5)
    assert _learning_rate(TrainingConfig(epochs=10, learning_rate=2e-3, schedule="constant"), 5) == 2e-3


@pytest.mark.slow
def test_auto_layout_takes_tiles_but_patches_on_the_disjoint_split(scene):
    cube, rows, cols, targets, split = scene
    disjoint = make_split(rows, cols, targets + 1, "disjoint", seed=0, window=9)
    for chosen, expected in ((split, "tiles"), (disjoint, "patches")):
        result = train_network(cube, rows, cols, targets, chosen, 3, TrainingConfig(window=9, epochs=1, layout="auto"))
        assert result.layout == expected and result.tiling_gain >= 1.5
