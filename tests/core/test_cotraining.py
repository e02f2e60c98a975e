"""Co-training: which pixels become pseudo-labels, and the whole recipe on the shipped scene's
disjoint split, where it runs by default."""
import numpy as np
import pytest

from fast3dcnn_qgis.core.blocks import array_blocks
from fast3dcnn_qgis.core.cotraining import MAX_POOL, ROUNDS, applies, pool_mask, pseudo_labels
from fast3dcnn_qgis.core.settings import TrainingConfig, TrainingSettings
from fast3dcnn_qgis.core.progress import CallbackReporter
from fast3dcnn_qgis.core.workflow import Scene, train_classifier

from .conftest import SALINAS_BAD_BANDS


def test_pseudo_labels_need_agreement_and_confidence_and_are_capped_per_class():
    network = np.array([0, 0, 0, 0, 1, 1, 1, 2])
    svm = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    confidence = np.array([0.95, 0.99, 0.92, 0.99, 0.97, 0.5, 0.99, 0.91])
    chosen, classes = pseudo_labels(network, svm, confidence, train_counts=[2, 5, 5])
    # Class 0: three agree and are sure, capped at its 2 training pixels, the surest first; pixel 3
    # disagrees, 5 is unsure, 6 disagrees.
    assert chosen.tolist() == [1, 0, 4, 7] and classes.tolist() == [0, 0, 1, 2]
    # Half a class's training pixels at most (rounded down), at 96% sure at least.
    chosen, _ = pseudo_labels(network, svm, confidence, train_counts=[2, 5, 5], cap=0.5, threshold=0.96)
    assert chosen.tolist() == [1, 4]
    assert len(pseudo_labels(network, svm, confidence, [0, 0, 0])[0]) == 0


def test_the_pool_is_the_whole_of_a_small_scene_and_a_sample_of_a_large_one():
    assert pool_mask((83, 86), seed=0).all()
    mask = pool_mask((1000, 900), seed=3)
    assert mask.sum() == MAX_POOL and np.array_equal(mask, pool_mask((1000, 900), seed=3))
    assert applies("auto", "disjoint") and not applies("auto", "paper")
    assert applies("on", "paper") and not applies("off", "disjoint")


@pytest.fixture(scope="module")
def cotrained(salinas):
    cube, labels = salinas
    settings = TrainingSettings(exclude_bands=SALINAS_BAD_BANDS, split="disjoint",
                                training=TrainingConfig.recipe("robust", window=9, epochs=3))
    messages, percents = [], []
    classifier = train_classifier(Scene(lambda: array_blocks(cube, 40), *cube.shape, labels), settings,
                                  CallbackReporter(percents.append, messages.append))
    return classifier.record, messages, percents


@pytest.mark.slow
def test_the_robust_recipe_cotrains_on_the_disjoint_split_without_test_labels(cotrained, salinas):
    record, messages, percents = cotrained
    cotraining = record.cotraining
    # The pool is every pixel of the scene outside training, test pixels (unlabelled there) and
    # unlabelled ones alike.
    n_unlabelled = int((salinas[1] == 0).sum())
    assert cotraining["n_pool"] == salinas[1].size - record.split["n_train"] >= record.split["n_test"] + n_unlabelled
    rounds = cotraining["rounds"]
    assert len(rounds) == ROUNDS
    for round_ in rounds:
        per_class = round_["pseudo_labels_per_class"]
        assert set(per_class) == {1, 10, 11, 12, 13, 14}
        # At most once each class's training pixels.
        assert sum(per_class.values()) == round_["n_pseudo_labels"] <= record.split["n_train"]
    assert rounds[-1]["n_pseudo_labels"] > 100
    # The model's network is the last round's (the record's figures are its fusion with the forest's).
    assert record.fusion is not None
    assert rounds[-1]["overall_accuracy"] == record.fusion["network_accuracy"]["overall_accuracy"]
    assert record.accuracy["overall_accuracy"] > 0.8
    assert 0 < cotraining["first_accuracy"]["overall_accuracy"] <= 1
    assert {"first_train_seconds", "pool_seconds", "train_seconds"} <= set(record.timings)
    assert sum(m.startswith("Co-training, round") for m in messages) == ROUNDS
    assert percents == sorted(percents) and percents[-1] == 100
    assert record.to_json()["cotraining"]["rounds"][-1]["pseudo_labels_per_class"]["10"] == per_class[10]


@pytest.mark.parametrize("recipe, split, baseline, cotrains", [
    ("paper", "disjoint", True, False), ("robust", "paper", True, False), ("robust", "disjoint", False, False)])
@pytest.mark.slow
def test_cotraining_and_fusion_are_off_for_the_paper_recipe_random_splits_and_without_baselines(
        salinas, recipe, split, baseline, cotrains):
    cube, labels = salinas
    settings = TrainingSettings(exclude_bands=SALINAS_BAD_BANDS, split=split, baseline=baseline,
                                training=TrainingConfig.recipe(recipe, window=9, epochs=1))
    messages = []
    record = train_classifier(Scene(lambda: array_blocks(cube, 40), *cube.shape, labels), settings,
                              CallbackReporter(log=messages.append)).record
    assert record.cotraining is None and "first_train_seconds" not in record.timings
    assert any(m.startswith("No co-training") for m in messages) == (recipe == "robust" and split == "disjoint")
    # Fusing the map with the forest follows the same rule, and says so where the baselines are off.
    assert record.fusion is None
    assert any(m.startswith("No fusion") for m in messages) == (recipe == "robust" and split == "disjoint")
