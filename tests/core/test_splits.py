import numpy as np
import pytest
from scipy import ndimage

from fast3dcnn_qgis.core.splits import SplitError, labelled_pixels, make_split, validation_into_training


def _parts(split):
    return split.train, split.val, split.test


def _check_partition(split, n):
    together = np.concatenate(_parts(split))
    assert len(together) == len(np.unique(together))
    assert set(together) <= set(range(n))


def test_paper_split_is_30_percent_test_and_halves_the_rest(salinas):
    rows, cols, labels = labelled_pixels(salinas[1])
    split = make_split(rows, cols, labels, "paper", seed=3)
    _check_partition(split, len(labels))
    assert len(np.concatenate(_parts(split))) == len(labels)
    for cls in np.unique(labels):
        n = (labels == cls).sum()
        n_test = (labels[split.test] == cls).sum()
        n_train = (labels[split.train] == cls).sum()
        assert n_test == round(0.3 * n)
        assert abs(n_train - (labels[split.val] == cls).sum()) <= 1
    again = make_split(rows, cols, labels, "paper", seed=3)
    other = make_split(rows, cols, labels, "paper", seed=4)
    assert np.array_equal(again.train, split.train) and not np.array_equal(other.train, split.train)


def test_fraction_and_count_draw_training_pixels_per_class(salinas):
    rows, cols, labels = labelled_pixels(salinas[1])
    fraction = make_split(rows, cols, labels, "fraction", 0.1, seed=0)
    count = make_split(rows, cols, labels, "count", 25, seed=0)
    for cls in np.unique(labels):
        n = (labels == cls).sum()
        assert (labels[fraction.train] == cls).sum() == round(0.1 * n)
        assert (labels[count.train] == cls).sum() == 25
        assert abs((labels[count.val] == cls).sum() - (labels[count.test] == cls).sum()) <= 1
    _check_partition(fraction, len(labels))


def test_small_classes_are_named_in_the_error():
    labels = np.array([1] * 50 + [7] * 2)
    rows, cols = np.arange(52), np.zeros(52, dtype=int)
    with pytest.raises(SplitError, match=r"class 7 \(Oats\) has only 2 labelled pixels"):
        make_split(rows, cols, labels, "paper", class_names={7: "Oats"})
    with pytest.raises(SplitError, match="class 7 has only 2 labelled pixels"):
        make_split(rows, cols, labels, "count", 5)
    with pytest.raises(SplitError, match="fraction 1.5"):
        make_split(rows, cols, labels, "fraction", 1.5)
    with pytest.raises(SplitError, match="'random' is not one of"):
        make_split(rows, cols, labels, "random")


@pytest.mark.parametrize("window", [5, 11])
def test_disjoint_split_keeps_test_pixels_out_of_every_training_patch(salinas, window):
    rows, cols, labels = labelled_pixels(salinas[1])
    split = make_split(rows, cols, labels, "disjoint", seed=0, window=window)
    _check_partition(split, len(labels))
    test = np.zeros(salinas[1].shape, dtype=bool)
    test[rows[split.test], cols[split.test]] = True
    # Count test pixels inside each training and validation pixel's S x S window.
    inside = ndimage.uniform_filter(test.astype(float), size=window, mode="constant") * window ** 2
    assert inside[rows[split.train], cols[split.train]].max() < 0.5
    assert len(split.test) == pytest.approx(0.3 * len(labels), abs=len(np.unique(labels)))
    for part in _parts(split):
        assert set(np.unique(labels[part])) == set(np.unique(labels))


def test_disjoint_split_reports_classes_it_cannot_separate():
    grid = np.zeros((40, 40), dtype=int)
    grid[:, :30] = 1
    grid[5:7, 35:37] = 2    # one small patch of class 2: it cannot be in three places at once
    rows, cols, labels = labelled_pixels(grid)
    with pytest.raises(SplitError, match="class 2") as caught:
        make_split(rows, cols, labels, "disjoint", window=5)
    assert caught.value.classes == (2,)


def test_validation_into_training_keeps_every_test_pixel_out_of_training_patches(salinas):
    rows, cols, labels = labelled_pixels(salinas[1])
    split = make_split(rows, cols, labels, "disjoint", seed=1, window=11)
    merged = validation_into_training(split, rows, cols, 11)
    assert len(merged.val) == 0 and np.array_equal(merged.test, split.test)
    assert set(split.train) < set(merged.train) <= set(split.train) | set(split.val)
    test = np.zeros(salinas[1].shape, dtype=bool)
    test[rows[split.test], cols[split.test]] = True
    inside = ndimage.uniform_filter(test.astype(float), size=11, mode="constant") * 121
    assert inside[rows[merged.train], cols[merged.train]].max() < 0.5
    moved = np.setdiff1d(split.val, merged.train)  # the validation pixels left out are those next to test
    assert len(moved) and inside[rows[moved], cols[moved]].min() > 0.5
