import numpy as np
import pytest
from scipy import ndimage

from fast3dcnn_qgis.core.splits import SplitError, fields, labelled_pixels, make_split, validation_into_training


def _parts(split):
    return split.train, split.val, split.test


def _check_partition(split, n):
    together = np.concatenate(_parts(split))
    assert len(together) == len(np.unique(together))
    assert set(together) <= set(range(n))


def _tests_in_patches(shape, rows, cols, split, window):
    """The number of ``split``'s test pixels in the ``window`` x ``window`` patch of each pixel of a grid."""
    test = np.zeros(shape)
    test[rows[split.test], cols[split.test]] = 1
    return ndimage.uniform_filter(test, size=window, mode="constant") * window ** 2


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


@pytest.mark.parametrize("method,value", [("paper", None), ("fraction", 0.1), ("count", 25), ("disjoint", None)])
def test_a_class_too_small_to_hold_out_is_trained_on_and_not_tested(salinas, method, value):
    grid = salinas[1].copy()
    grid[grid == 1] = 0
    grid[0, :2] = 1  # two neighbouring pixels of Brocoli, far from the other fields
    rows, cols, labels = labelled_pixels(grid)
    split = make_split(rows, cols, labels, method, value, seed=0, window=11)
    _check_partition(split, len(labels))
    assert split.not_tested == (1,) and "not tested: class 1" in split.describe()
    assert 1 in labels[split.train] and 1 not in labels[split.test]
    assert set(labels[split.test]) == {10, 11, 12, 13, 14}
    if method == "count":  # it asks for more than there are: all train
        assert list(labels[split.train]).count(1) == 2


def test_splits_that_cannot_work_are_refused():
    labels = np.array([1] * 2 + [7] * 2)
    rows, cols = np.arange(4), np.zeros(4, dtype=int)
    with pytest.raises(SplitError, match="the paper split holds no pixel out for testing"):
        make_split(rows, cols, labels, "paper")
    with pytest.raises(SplitError, match="label more pixels, or ask for fewer training pixels per class"):
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
    inside = _tests_in_patches(salinas[1].shape, rows, cols, split, window)
    assert inside[rows[split.train], cols[split.train]].max() < 0.5
    assert len(split.test) == pytest.approx(0.3 * len(labels), abs=len(np.unique(labels)))
    for part in _parts(split):
        assert set(np.unique(labels[part])) == set(np.unique(labels))


def test_disjoint_split_gives_up_the_test_ground_a_hemmed_in_class_needs_to_train(salinas):
    rows, cols, labels = labelled_pixels(salinas[1])
    before = make_split(rows, cols, labels, "disjoint", seed=0, window=11)
    test = _tests_in_patches(salinas[1].shape, rows, cols, before, 1) > 0.5
    # An unlabelled pixel whose patch reaches test ground becomes a class of its own: one pixel,
    # nothing to hold out, and no training pixel unless the test pixels beside it give way.
    grid = salinas[1].copy()
    row, col = np.argwhere((_tests_in_patches(grid.shape, rows, cols, before, 11) > 0.5) & (grid == 0))[0]
    grid[row, col] = 7
    rows, cols, labels = labelled_pixels(grid)
    split = make_split(rows, cols, labels, "disjoint", seed=0, window=11)
    assert split.not_tested == (7,) and 7 in labels[split.train]
    assert _tests_in_patches(grid.shape, rows, cols, split, 11)[rows[split.train], cols[split.train]].max() < 0.5
    beside = (abs(rows - row) <= 5) & (abs(cols - col) <= 5) & test[rows, cols]
    assert beside.any() and set(split.test) == set(np.flatnonzero(test[rows, cols] & ~beside))
    assert set(np.flatnonzero(beside)) <= set(split.val)


def test_validation_into_training_keeps_every_test_pixel_out_of_training_patches(salinas):
    rows, cols, labels = labelled_pixels(salinas[1])
    split = make_split(rows, cols, labels, "disjoint", seed=1, window=11)
    merged = validation_into_training(split, rows, cols, 11)
    assert len(merged.val) == 0 and np.array_equal(merged.test, split.test)
    assert set(split.train) < set(merged.train) <= set(split.train) | set(split.val)
    inside = _tests_in_patches(salinas[1].shape, rows, cols, split, 11)
    assert inside[rows[merged.train], cols[merged.train]].max() < 0.5
    moved = np.setdiff1d(split.val, merged.train)  # the validation pixels left out are those next to test
    assert len(moved) and inside[rows[moved], cols[moved]].min() > 0.5


def _cut_into_fields(grid, every=12):
    """Salinas-A's label grid with every ``every``-th row and column unlabelled: each class's field
    becomes several fields, as an analyst's polygons would be."""
    cut = grid.copy()
    cut[::every] = 0
    cut[:, ::every] = 0
    return cut


def test_fields_are_the_patches_of_one_class_joined_by_sides_or_corners():
    grid = np.array([[1, 1, 0, 2],
                     [0, 0, 1, 2],
                     [3, 0, 0, 0],
                     [3, 3, 0, 1]])
    numbers = fields(grid)
    assert (numbers == 0).sum() == (grid == 0).sum()
    # The corner joins (1, 2) to the first field of class 1; the class-1 pixel at the bottom is a field
    # of its own, and class 2 beside class 1 is another field.
    assert numbers[0, 0] == numbers[0, 1] == numbers[1, 2] != numbers[3, 3]
    assert len(np.unique(numbers[grid != 0])) == 4
    assert all(len(np.unique(grid[numbers == n])) == 1 for n in np.unique(numbers[numbers != 0]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_grouped_split_holds_out_whole_fields_no_training_patch_reaches(salinas, seed):
    grid = _cut_into_fields(salinas[1])
    numbers = fields(grid)
    rows, cols, labels = labelled_pixels(grid)
    groups = numbers[rows, cols]
    split = make_split(rows, cols, labels, "grouped", seed=seed, window=11, groups=groups)
    _check_partition(split, len(labels))
    assert split.method == "grouped" and split.value == 0.3 and not split.not_tested
    assert not set(groups[split.test]) & set(groups[np.concatenate([split.train, split.val])])
    inside = _tests_in_patches(grid.shape, rows, cols, split, 11)
    assert inside[rows[split.train], cols[split.train]].max() < 0.5
    for cls in np.unique(labels):
        tested = (labels[split.test] == cls).sum() / (labels == cls).sum()
        assert 0.1 < tested < 0.55, (cls, tested)  # whole fields: near the 30% asked, not exactly
    again = make_split(rows, cols, labels, "grouped", seed=seed, window=11, groups=groups)
    assert np.array_equal(again.test, split.test)


def test_a_class_of_one_field_is_cut_like_the_disjoint_split(salinas):
    grid = _cut_into_fields(salinas[1])
    brocoli = salinas[1] == 1
    grid[brocoli] = 1  # Brocoli's field left whole
    rows, cols, labels = labelled_pixels(grid)
    split = make_split(rows, cols, labels, "grouped", seed=0, window=11, groups=fields(grid)[rows, cols])
    assert len(np.unique(fields(grid)[brocoli])) == 1
    tested = (labels[split.test] == 1).sum()
    assert tested == round(0.3 * (labels == 1).sum()) and 1 in labels[split.train]


def test_auto_is_grouped_with_fields_and_disjoint_without(salinas):
    grid = _cut_into_fields(salinas[1])
    rows, cols, labels = labelled_pixels(grid)
    groups = fields(grid)[rows, cols]
    auto = make_split(rows, cols, labels, "auto", seed=1, groups=groups)
    grouped = make_split(rows, cols, labels, "grouped", seed=1, groups=groups)
    assert auto.method == "grouped" and np.array_equal(auto.test, grouped.test)
    auto = make_split(rows, cols, labels, "auto", seed=1)
    disjoint = make_split(rows, cols, labels, "disjoint", seed=1)
    assert auto.method == "disjoint" and np.array_equal(auto.test, disjoint.test)
    assert auto.describe().startswith("disjoint 0.3: ")
    with pytest.raises(SplitError, match="the grouped split holds out whole fields, and this ground truth has none"):
        make_split(rows, cols, labels, "grouped")


def test_small_fields_beside_the_window_still_leave_training_ground(salinas):
    """Fields of 3 x 3 pixels (every fourth row and column unlabelled), as polygons drawn finer than
    the raster give: held out at random they would put a test window over every training pixel."""
    grid = _cut_into_fields(salinas[1], every=4)
    rows, cols, labels = labelled_pixels(grid)
    for seed in (0, 1, 2):
        split = make_split(rows, cols, labels, "grouped", seed=seed, window=11, groups=fields(grid)[rows, cols])
        # Every class is trained and tested, and no more than the band between training and test
        # ground is lost: at random, 6-13% of the pixels were left to train on and classes went untested.
        assert set(labels[split.train]) == set(labels[split.test]) == set(labels) and not split.not_tested
        assert len(split.train) > 0.25 * len(labels) and len(split.test) > 0.25 * len(labels)
        inside = _tests_in_patches(grid.shape, rows, cols, split, 11)
        assert inside[rows[split.train], cols[split.train]].max() < 0.5
