"""The batch loop scores the real pixels only (a tile batch's padding slots and a short last batch
count for nothing) and trains each batch of an epoch once, in order, stopping where a caller raises."""
import keras
import numpy as np
import pytest

from fast3dcnn_qgis.core.batch_loop import evaluate, predict, train_epoch
from fast3dcnn_qgis.core.network import build_fast3dcnn
from fast3dcnn_qgis.core.patches import PatchDataset
from fast3dcnn_qgis.core.tile_training import TileDataset, predict_on_tiles, tile_trainer

# Every test takes the session's trained salinas_classifier, and most train an epoch.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pixels(salinas, salinas_classifier):
    """The trained classifier's scores of Salinas-A and 300 of its labelled pixels (a last batch of
    44 real pixels in batches of 256), with their class indices, a third of them shifted to another
    class so that no network scores them perfectly and a miscount would show."""
    cube, labels = salinas
    scores = salinas_classifier.reducer.transform_block(cube)[0]
    rows, cols = np.nonzero(labels)
    pick = np.random.default_rng(0).choice(len(rows), 300, replace=False)
    rows, cols = rows[pick], cols[pick]
    targets = np.searchsorted(salinas_classifier.class_ids, labels[rows, cols])
    targets[::3] = (targets[::3] + 1) % len(salinas_classifier.class_ids)
    return scores, rows, cols, targets


def _compiled(model):
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", weighted_metrics=["accuracy"])
    return model


@pytest.mark.parametrize("layout", ["tiles", "patches"])
def test_accuracy_counts_the_real_pixels_only(salinas_classifier, pixels, layout):
    scores, rows, cols, targets = pixels
    network = salinas_classifier.network
    if layout == "tiles":
        model, make = tile_trainer(network), TileDataset
    else:
        model, make = keras.models.clone_model(network), PatchDataset
        model.set_weights(network.get_weights())
    data = make(scores, rows, cols, targets, window=salinas_classifier.window, batch_size=256)
    unlabelled = make(scores, rows, cols, None, window=salinas_classifier.window, batch_size=256)
    # Tiles: one output row per pixel slot, which predict_on_tiles puts back in the pixels' order.
    probabilities = predict_on_tiles(model, unlabelled) if layout == "tiles" else predict(model, unlabelled)
    expected = float(np.mean(np.argmax(probabilities, axis=-1) == targets))
    assert 0.3 < expected < 0.8
    assert evaluate(_compiled(model), data)[1] == pytest.approx(expected, abs=1e-6)


def test_an_epoch_trains_every_batch_once_in_order_then_reshuffles(pixels):
    scores, rows, cols, targets = pixels
    keras.utils.set_random_seed(0)
    model = _compiled(tile_trainer(build_fast3dcnn(9, scores.shape[2], int(targets.max()) + 1)))
    data = TileDataset(scores, rows, cols, targets, 9, 64, shuffle=True)
    before, seen = data.slots(), []
    loss, accuracy = train_epoch(model, data, seen.append)
    assert seen == list(range(len(data))) and int(model.optimizer.iterations) == len(data)
    assert np.isfinite(loss) and 0 <= accuracy <= 1
    assert not np.array_equal(before, data.slots())


def test_an_exception_after_a_batch_ends_the_epoch_there(pixels):
    scores, rows, cols, targets = pixels
    model = _compiled(build_fast3dcnn(9, scores.shape[2], int(targets.max()) + 1))

    def stop_after_second(index):
        if index == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_epoch(model, PatchDataset(scores, rows, cols, targets, 9, 64, shuffle=True), stop_after_second)
    assert int(model.optimizer.iterations) == 2
