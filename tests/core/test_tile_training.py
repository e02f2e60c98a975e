"""Training on tiles computes exactly the patch network, on the patch network's own weights."""
import numpy as np
import pytest

from fast3dcnn_qgis.core.network import build_fast3dcnn
from fast3dcnn_qgis.core.patches import PatchDataset
from fast3dcnn_qgis.core.tile_training import TRAINING_TILE_CORE, TileDataset, predict_on_tiles, tile_trainer, tiling_gain

# Part of the suite that `make test-debian-unstable` runs (pytest -m debian_unstable).
pytestmark = pytest.mark.debian_unstable


@pytest.fixture(scope="module")
def cube():
    return np.random.default_rng(0).normal(size=(37, 41, 16)).astype(np.float32)


@pytest.mark.parametrize("window, padding", [(9, "zero"), (13, "reflect")])
def test_tiles_give_the_patch_networks_outputs_at_every_pixel_borders_included(cube, window, padding):
    rng = np.random.default_rng(window)
    rows, cols = rng.integers(0, cube.shape[0], 300), rng.integers(0, cube.shape[1], 300)
    rows[:4], cols[:4] = [0, 0, 36, 36], [0, 40, 0, 40]  # the corners: padding on two sides
    network = build_fast3dcnn(window, cube.shape[2], 5)
    expected = network.predict(PatchDataset(cube, rows, cols, None, window, 64, padding), verbose=0)
    got = predict_on_tiles(tile_trainer(network), TileDataset(cube, rows, cols, None, window, 64, padding=padding))
    assert np.abs(got - expected).max() < 1e-5


@pytest.mark.slow
def test_training_on_tiles_trains_the_patch_network(cube):
    rng = np.random.default_rng(1)
    rows, cols = rng.integers(0, cube.shape[0], 200), rng.integers(0, cube.shape[1], 200)
    targets = rng.integers(0, 3, 200)
    network = build_fast3dcnn(9, cube.shape[2], 3)
    before = network.predict(PatchDataset(cube, rows, cols, None, 9, 64), verbose=0)
    trainer = tile_trainer(network)
    trainer.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    trainer.fit(TileDataset(cube, rows, cols, targets, 9, 64, shuffle=True), epochs=2, verbose=0)
    after = network.predict(PatchDataset(cube, rows, cols, None, 9, 64), verbose=0)
    assert np.abs(after - before).max() > 1e-3
    assert np.abs(predict_on_tiles(trainer, TileDataset(cube, rows, cols, None, 9, 64)) - after).max() < 1e-5


def test_each_epoch_holds_every_pixel_once_in_a_new_order(cube):
    rng = np.random.default_rng(2)
    rows, cols = rng.integers(0, cube.shape[0], 150), rng.integers(0, cube.shape[1], 150)
    data = TileDataset(cube, rows, cols, np.arange(150), 9, 64, shuffle=True, seed=3)
    orders = []
    for _ in range(2):
        batches = [data[i] for i in range(len(data))]
        targets = np.concatenate([t[w > 0] for _, t, w in batches])
        assert sorted(targets) == list(range(150))
        for (tiles, positions), t, weights in batches:
            assert len(t) == len(weights) == len(positions) == 64
            real = int(weights.sum())
            assert (weights[:real] == 1).all() and (weights[real:] == 0).all()
        orders.append(targets)
        data.on_epoch_end()
    assert not np.array_equal(*orders)


def test_tiles_pay_only_where_training_pixels_are_dense():
    rows, cols = np.nonzero(np.ones((60, 60), bool))
    assert tiling_gain(rows, cols, 11, 20) > 2
    assert tiling_gain(rows, cols, 21, 20) > 4
    scattered = np.arange(0, 3000, 50)
    assert tiling_gain(scattered, scattered, 11, 20) < 1


def test_fixed_tiles_give_every_batch_one_shape_and_the_same_outputs(cube):
    rng = np.random.default_rng(4)
    rows, cols = rng.integers(0, cube.shape[0], 300), rng.integers(0, cube.shape[1], 300)
    network = build_fast3dcnn(9, cube.shape[2], 5)
    trainer = tile_trainer(network, TRAINING_TILE_CORE)
    own = TileDataset(cube, rows, cols, None, 9, 64, TRAINING_TILE_CORE, fixed_tiles=False)
    fixed = TileDataset(cube, rows, cols, None, 9, 64, TRAINING_TILE_CORE, fixed_tiles=True)
    assert len({own[i][0][0].shape[0] for i in range(len(own))}) > 1  # else the test shows nothing
    counts = {fixed[i][0][0].shape[0] for i in range(len(fixed))}
    assert len(counts) == 1 and counts.pop() % 8 == 0
    assert np.abs(predict_on_tiles(trainer, fixed) - predict_on_tiles(trainer, own)).max() < 1e-6
    # Shuffled, each epoch has one number of tiles, which never shrinks (no new shape to compile).
    shuffled = TileDataset(cube, rows, cols, np.arange(300), 9, 64, TRAINING_TILE_CORE, shuffle=True,
                           fixed_tiles=True)
    per_epoch = []
    for _ in range(4):
        counts = {shuffled[i][0][0].shape[0] for i in range(len(shuffled))}
        assert len(counts) == 1
        per_epoch.append(counts.pop())
        shuffled.on_epoch_end()
    assert per_epoch == sorted(per_epoch)
