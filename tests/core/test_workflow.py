"""The whole recipe on the shipped real scene, and prediction over blocks."""
import numpy as np
import pytest

from fast3dcnn_qgis.core.blocks import array_blocks
from fast3dcnn_qgis.core.classes import ClassTable
from fast3dcnn_qgis.core.cotraining import ROUNDS
from fast3dcnn_qgis.core.forest import FLOOR
from fast3dcnn_qgis.core.prediction import predict_blocks
from fast3dcnn_qgis.core.smoothing import AGREEMENT, MAX_RADIUS, smoothed_block
from fast3dcnn_qgis.core.errors import Cancelled
from fast3dcnn_qgis.core.settings import TrainingConfig, TrainingSettings
from fast3dcnn_qgis.core.progress import CallbackReporter, Reporter
from fast3dcnn_qgis.core.workflow import Scene, train_classifier

from .conftest import SALINAS_BAD_BANDS


@pytest.mark.slow
def test_a_few_epochs_on_salinas_a_beat_chance_clearly(salinas_classifier):
    record = salinas_classifier.record
    accuracy = record.accuracy
    # Six classes: chance is about 1/6 (29% for always guessing the largest class).
    assert accuracy["overall_accuracy"] > 0.9 and accuracy["kappa"] > 0.85
    # The default split of a label raster holds an area of each class out; its validation pixels clear of
    # the test ground are trained on, and the network is co-trained with the SVM.
    assert record.split["method"] == "disjoint" and accuracy["n_pixels"] == record.split["n_test"]
    assert record.model["kept_bands"] == "1-107,113-153,168-223"
    assert record.history["val_accuracy"] == [None] * 3 and len(record.cotraining["rounds"]) == ROUNDS


def _map(classifier, cube, block_rows, block_cols):
    labels = np.zeros(cube.shape[:2], dtype=np.int64)
    confidence = np.zeros(cube.shape[:2], dtype=np.float32)
    blocks = array_blocks(cube, block_rows, block_cols, halo=classifier.halo)
    for block, lab, conf, _, _ in predict_blocks(classifier, blocks):
        rows, cols = block.shape
        labels[block.row:block.row + rows, block.col:block.col + cols] = lab
        confidence[block.row:block.row + rows, block.col:block.col + cols] = conf
    return labels, confidence


@pytest.mark.slow
def test_block_prediction_does_not_depend_on_block_size(salinas_classifier, salinas):
    cube, reference = salinas
    whole, whole_conf = _map(salinas_classifier, cube, 83, 86)
    tiled, tiled_conf = _map(salinas_classifier, cube, 17, 23)
    assert np.array_equal(whole, tiled)
    assert np.allclose(whole_conf, tiled_conf, atol=1e-5)
    labelled = reference > 0
    assert (whole[labelled] == reference[labelled]).mean() > 0.9
    assert set(np.unique(whole)) <= {1, 10, 11, 12, 13, 14}
    assert (whole_conf > 0).all() and (whole_conf <= 1).all()


@pytest.mark.slow
def test_the_map_is_the_geometric_mean_of_the_networks_the_forests_and_the_svms_probabilities(salinas_classifier,
                                                                                                salinas):
    from dataclasses import replace
    cube = salinas[0]
    fusion = salinas_classifier.record.fusion
    assert salinas_classifier.forest.n_trees == fusion["trees"] == 100
    svm = salinas_classifier.svm
    assert svm.n_support_vectors == fusion["support_vectors"] > 0
    # Its figures are the fused map's; the network's own are kept beside them.
    assert fusion["n_test"] == salinas_classifier.record.accuracy["n_pixels"]
    assert 0.5 < fusion["network_accuracy"]["overall_accuracy"] <= 1
    block = next(array_blocks(cube, 83, 86, halo=4))
    unsmoothed = replace(salinas_classifier, smoothing_radius=0, class_weights=None)
    fused = next(predict_blocks(unsmoothed, [block]))
    alone = next(predict_blocks(replace(unsmoothed, forest=None, svm=None), [block]))
    spectra = cube.reshape(-1, 224)[:, salinas_classifier.reducer.band_indices]
    forest = salinas_classifier.forest.probabilities(spectra).reshape(83, 86, -1)
    svm_probabilities = svm.probabilities(spectra).reshape(83, 86, -1)
    assert np.allclose(svm_probabilities.sum(axis=-1), 1, atol=1e-5)
    # The SVM's probabilities side with its own decisions.
    assert (svm_probabilities.argmax(axis=-1) == svm.scores(spectra).argmax(axis=-1).reshape(83, 86)).mean() > 0.95
    # The geometric mean of the three, normalised: a class all find likely wins.
    geometric = np.cbrt((alone.probabilities + FLOOR) * (forest + FLOOR) * (svm_probabilities + FLOOR))
    assert np.allclose(fused.probabilities, geometric / geometric.sum(axis=-1, keepdims=True), atol=1e-5)
    assert not np.allclose(fused.probabilities, alone.probabilities, atol=0.01)
    assert np.array_equal(fused.labels, salinas_classifier.class_ids[fused.probabilities.argmax(axis=-1)])


@pytest.mark.slow
def test_the_map_is_smoothed_over_the_radius_the_training_labels_agree_over(salinas_classifier, salinas):
    from dataclasses import replace
    cube, labels = salinas
    record = salinas_classifier.record
    smoothing = record.smoothing
    # Salinas-A's fields agree over more than 90% of the pixels 5 apart: the widest radius.
    assert smoothing["radius"] == salinas_classifier.smoothing_radius == MAX_RADIUS
    assert smoothing["agreement"] >= AGREEMENT
    assert smoothing["n_test"] == record.accuracy["n_pixels"] == record.fusion["n_test"]
    assert smoothing["unsmoothed_accuracy"]["overall_accuracy"] <= record.accuracy["overall_accuracy"]
    block = next(array_blocks(cube, 83, 86))
    unweighted = replace(salinas_classifier, class_weights=None)
    smoothed = next(predict_blocks(unweighted, [block]))
    fused = next(predict_blocks(replace(unweighted, smoothing_radius=0), [block]))
    valid = fused.labels > 0
    assert np.allclose(smoothed.probabilities, smoothed_block(fused.probabilities, valid, MAX_RADIUS), atol=1e-5)
    # Fewer pixels break a field: the map changes, and agrees with the labels at least as well.
    labelled = labels > 0
    changed = smoothed.labels != fused.labels
    assert changed.any()
    assert (smoothed.labels[labelled] == labels[labelled]).sum() >= (fused.labels[labelled] == labels[labelled]).sum()


@pytest.mark.slow
def test_the_maps_classes_are_weighted_against_their_training_shares(salinas_classifier, salinas):
    from dataclasses import replace
    cube = salinas[0]
    record = salinas_classifier.record
    balance = record.balance
    counts = np.array(balance["train_counts"])
    assert counts.sum() == record.split["n_train"] and len(counts) == len(salinas_classifier.class_ids)
    # Each class weighs the square root of how many times fewer training pixels it had than the most trained.
    assert np.allclose(salinas_classifier.class_weights, np.sqrt(counts.max() / counts))
    assert np.allclose(balance["weights"], salinas_classifier.class_weights) and balance["exponent"] == 0.5
    assert balance["n_test"] == record.accuracy["n_pixels"]
    assert 0.5 < balance["unweighted_accuracy"]["average_accuracy"] <= 1
    block = next(array_blocks(cube, 83, 86))
    weighted = next(predict_blocks(salinas_classifier, [block]))
    unweighted = next(predict_blocks(replace(salinas_classifier, class_weights=None), [block]))
    expected = unweighted.probabilities * salinas_classifier.class_weights
    assert np.allclose(weighted.probabilities, expected / expected.sum(axis=-1, keepdims=True), atol=1e-5)
    assert np.array_equal(weighted.labels, salinas_classifier.class_ids[weighted.probabilities.argmax(axis=-1)])
    # The least trained class gains where the classes are weighed against each other.
    rare = int(np.argmin(counts))
    assert (weighted.labels == salinas_classifier.class_ids[rare]).sum() >= \
        (unweighted.labels == salinas_classifier.class_ids[rare]).sum()


@pytest.mark.slow
def test_nodata_pixels_are_left_out_and_mapped_to_zero(salinas_classifier, salinas):
    cube = salinas[0].astype(np.float32)
    cube[40:45, 40:45, 17] = np.nan
    labels, confidence = _map(salinas_classifier, cube, 30, 86)
    assert (labels[40:45, 40:45] == 0).all() and (confidence[40:45, 40:45] == 0).all()
    assert (labels[:40] > 0).all()


@pytest.mark.slow
def test_training_ignores_labelled_nodata_and_cancels(salinas):
    cube, labels = salinas
    cube = cube.copy()
    cube[:10, :, 0] = -9999
    settings = TrainingSettings(exclude_bands=SALINAS_BAD_BANDS, training=TrainingConfig(window=9, epochs=1))
    scene = Scene(lambda: array_blocks(cube, 16), *cube.shape, labels, nodata=-9999)
    messages, percents = [], []
    classifier = train_classifier(scene, settings, CallbackReporter(percents.append, messages.append))
    excluded = int((labels[:10] > 0).sum())
    assert classifier.record.n_labelled_invalid_excluded == excluded
    assert any(f"{excluded} labelled pixels are nodata" in m for m in messages)
    assert percents == sorted(percents) and percents[-1] == 100
    with pytest.raises(Cancelled):
        train_classifier(scene, settings, CallbackReporter(should_cancel=lambda: True))


class Warnings(Reporter):
    """Keeps the warnings a run gives."""

    def __init__(self):
        self.warnings = []

    def warn(self, message):
        self.warnings.append(message)


@pytest.mark.slow
def test_a_class_too_small_to_hold_out_is_trained_on_and_reported_not_tested(salinas):
    cube, labels = salinas
    labels = labels.copy()
    labels[tuple(np.argwhere(labels == 1)[2:].T)] = 0  # two pixels of Brocoli left
    settings = TrainingSettings(exclude_bands=SALINAS_BAD_BANDS, training=TrainingConfig(window=9, epochs=1))
    reporter = Warnings()
    scene = Scene(lambda: array_blocks(cube, 40), *cube.shape, labels, classes=ClassTable.from_ids([1], {1: "Brocoli"}))
    record = train_classifier(scene, settings, reporter).record
    assert record.split["not_tested"] == [1] and "not tested: class 1" in record.split["description"]
    brocoli = record.accuracy["per_class"][0]
    assert (brocoli["id"], brocoli["support"], brocoli["recall"], brocoli["f1"]) == (1, 0, None, None)
    assert [w for w in reporter.warnings if w.startswith("Not tested: class 1 (Brocoli). ")]
    # Its two training pixels are not weighted up (they would weigh about 25): nothing could test it.
    balance = record.balance
    assert balance["train_counts"][0] == 2 and balance["weights"][0] == 1
    assert np.allclose(balance["weights"][1:], np.sqrt(max(balance["train_counts"]) / np.array(balance["train_counts"][1:])))


def test_one_class_and_oversized_window_are_refused(salinas):
    cube, labels = salinas
    settings = TrainingSettings(exclude_bands=SALINAS_BAD_BANDS, training=TrainingConfig(window=9, epochs=1))
    with pytest.raises(ValueError, match="1 labelled class"):
        train_classifier(Scene(lambda: array_blocks(cube, 40), *cube.shape, np.where(labels == 1, 1, 0)), settings)
    small = cube[:20, :8]
    with pytest.raises(ValueError, match="window size 9 is larger than the raster"):
        train_classifier(Scene(lambda: array_blocks(small, 40), *small.shape, labels[:20, :8]), settings)


@pytest.mark.parametrize("recipe", ["paper", "robust"])
@pytest.mark.slow
def test_the_robust_recipe_trains_on_the_disjoint_validation_pixels_too(salinas, recipe):
    cube, labels = salinas
    settings = TrainingSettings(exclude_bands=SALINAS_BAD_BANDS, split="disjoint",
                                training=TrainingConfig.recipe(recipe, window=9, epochs=1))
    classifier = train_classifier(Scene(lambda: array_blocks(cube, 40), *cube.shape, labels), settings)
    split = classifier.record.split
    if recipe == "robust":
        assert split["n_val"] == 0 and split["n_train"] > 2100
        assert classifier.forest is not None and classifier.record.fusion["n_test"] == split["n_test"]
    else:
        assert split["n_val"] > 1500 and split["n_train"] < 2000
        # The paper's recipe is the network alone.
        assert classifier.forest is None and classifier.record.fusion is None
        assert classifier.smoothing_radius == 0 and classifier.record.smoothing is None
        assert classifier.class_weights is None and classifier.record.balance is None
