"""The map's smoothing: the radius read from the training labels, and the two forms of the mean agreeing."""
import numpy as np

from fast3dcnn_qgis.core.forest import FLOOR
from fast3dcnn_qgis.core.smoothing import (AGREEMENT, MIN_PAIRS, chosen_radius, label_agreement, neighbourhood,
                                           smoothed_at, smoothed_block)


def test_agreement_weighs_each_class_alike():
    # 1 1 2 in a row: class 1's pixels have 3 labelled neighbours, 2 of class 1; class 2's one has 1, of
    # class 1: (2/3 + 0) / 2, where pooling the 4 ordered pairs would give 1/2. At radius 2 the pixels two
    # apart are neighbours too: class 1 2 of 4, class 2 0 of 2.
    assert label_agreement([0, 0, 0], [0, 1, 2], [1, 1, 2], (1, 3), 1) == (1 / 3, 4)
    assert label_agreement([0, 0, 0], [0, 1, 2], [1, 1, 2], (1, 3), 2) == (0.25, 6)
    # Pixels off the grid's row are not neighbours across the row's end.
    assert label_agreement([0, 1], [2, 0], [1, 1], (2, 3), 1) == (0.0, 0)


def _labelled(labels):
    rows, cols = np.nonzero(labels)
    return rows, cols, labels[rows, cols]


def test_fields_are_smoothed_and_pixel_by_pixel_classes_and_points_are_not(salinas):
    labels = salinas[1]
    # Salinas-A's fields: more than 90% of the labelled pixels up to 5 apart share their class.
    radius, agreement, pairs = chosen_radius(*_labelled(labels), labels.shape)
    assert radius == 5 and agreement >= AGREEMENT and pairs > 100000
    # The same pixels with their classes shuffled: neighbours agree by chance only.
    rows, cols, classes = _labelled(labels)
    shuffled = np.random.default_rng(0).permutation(classes)
    radius, agreement, pairs = chosen_radius(rows, cols, shuffled, labels.shape)
    assert radius == 0 and agreement < 0.5 and pairs >= MIN_PAIRS
    # Points: a pixel in 100, few of them next to another, say nothing of how wide a class runs.
    points = np.random.default_rng(0).choice(len(rows), len(rows) // 100, replace=False)
    radius, _, pairs = chosen_radius(rows[points], cols[points], classes[points], labels.shape)
    assert radius == 0 and pairs < MIN_PAIRS


def _probabilities(shape, seed=0):
    rng = np.random.default_rng(seed)
    probabilities = rng.dirichlet(np.ones(shape[-1]) * 0.5, size=shape[:-1]).astype(np.float32)
    valid = rng.random(shape[:-1]) > 0.2
    probabilities[~valid] = -1
    return probabilities, valid


def test_a_block_is_smoothed_as_the_geometric_mean_of_its_valid_neighbours():
    probabilities, valid = _probabilities((7, 9, 4))
    out = smoothed_block(probabilities, valid, 2)
    assert (out[~valid] == -1).all()
    for r, c in zip(*np.nonzero(valid)):
        window = (slice(max(r - 2, 0), r + 3), slice(max(c - 2, 0), c + 3))
        logs = np.log(probabilities[window][valid[window]] + FLOOR).mean(axis=0)
        expected = np.exp(logs) / np.exp(logs).sum()
        assert np.allclose(out[r, c], expected, atol=1e-6)


def test_scattered_pixels_are_smoothed_as_a_block_is():
    probabilities, valid = _probabilities((30, 40, 5), seed=1)
    dense = smoothed_block(probabilities, valid, 3)
    targets_rows, targets_cols = np.array([0, 5, 29, 17]), np.array([0, 39, 20, 3])
    keep = valid[targets_rows, targets_cols]
    near_rows, near_cols = neighbourhood(targets_rows[keep], targets_cols[keep], valid, 3)
    assert valid[near_rows, near_cols].all() and len(near_rows) < valid.sum()
    targets = np.searchsorted(near_rows * 40 + near_cols, targets_rows[keep] * 40 + targets_cols[keep])
    sparse = smoothed_at(near_rows, near_cols, probabilities[near_rows, near_cols], targets, valid.shape, 3)
    assert np.allclose(sparse, dense[targets_rows[keep], targets_cols[keep]], atol=1e-6)
