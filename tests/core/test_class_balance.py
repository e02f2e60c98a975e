"""The map's classes weighted against their training shares."""
import numpy as np
import pytest

from fast3dcnn_qgis.core.class_balance import balanced, class_weights


def test_each_class_weighs_the_square_root_of_how_much_less_it_was_trained(salinas):
    labels = salinas[1]
    ids, counts = np.unique(labels[labels > 0], return_counts=True)
    weights = class_weights(counts)
    # Salinas-A's six classes, from 1,525 to 391 pixels: the largest weighs 1, the smallest about 2.
    assert weights[np.argmax(counts)] == 1 and weights.min() == 1
    assert np.allclose(weights, np.sqrt(counts.max() / counts))
    assert 1.9 < weights.max() < 2.0 and np.argmax(weights) == np.argmin(counts)
    # All the way (exponent 1) the weights are the counts' ratios; none of the way they are all 1.
    assert np.allclose(class_weights(counts, exponent=1.0), counts.max() / counts)
    assert np.allclose(class_weights(counts, exponent=0.0), 1)


def test_weighted_probabilities_sum_to_one_and_favour_the_less_trained_class():
    # A pixel the network finds a little likelier of the class it saw four times as often.
    probabilities = np.array([[0.55, 0.45], [0.9, 0.1]], dtype=np.float32)
    weights = class_weights([400, 100])
    assert np.allclose(weights, [1, 2])
    out = balanced(probabilities, weights)
    assert out.dtype == np.float32 and np.allclose(out.sum(axis=-1), 1)
    # 0.55 against 2 x 0.45: the close call turns; the sure one does not.
    assert out[0].argmax() == 1 and out[1].argmax() == 0
    assert np.allclose(out[1], [0.9 / 1.1, 0.2 / 1.1])


def test_a_class_the_split_could_not_test_is_not_weighted_up():
    # Indian Pines' disjoint split, seed 0: Alfalfa, Grass-pasture-mowed, Oats and Stone-Steel-Towers (46, 28,
    # 10 and 16 training pixels) are too small to hold out; weighted up they took other classes' fields.
    counts = [46, 705, 382, 56, 198, 455, 28, 173, 10, 483, 1341, 311, 75, 803, 140, 16]
    untested = np.isin(np.arange(1, 17), [1, 7, 9, 16])
    weights = class_weights(counts, untested)
    assert (weights[untested] == 1).all()
    assert np.allclose(weights[~untested], np.sqrt(1341 / np.array(counts)[~untested]))
    assert np.allclose(class_weights(counts)[8], np.sqrt(1341 / 10))
    with pytest.raises(ValueError, match="a tested class"):
        class_weights([5, 8], [True, True])


@pytest.mark.parametrize("counts", [[10, 0, 5], [7], [[1, 2], [3, 4]]])
def test_weights_need_two_classes_each_trained_on(counts):
    with pytest.raises(ValueError, match="each with training pixels"):
        class_weights(counts)
