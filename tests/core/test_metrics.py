import numpy as np
import pytest

from fast3dcnn_qgis.core.metrics import accuracy_report


def test_figures_of_a_hand_computed_case():
    # reference ids 3 and 8; 0 is unlabelled and must not count, whatever is predicted there.
    reference = np.array([3, 3, 3, 3, 8, 8, 0, 0])
    predicted = np.array([3, 3, 3, 8, 8, 3, 8, 3])
    report = accuracy_report(reference, predicted, [8, 3], {3: "Corn", 8: "Hay"})
    assert report["class_ids"] == [3, 8]
    assert report["confusion_matrix"] == [[3, 1], [1, 1]]
    assert report["overall_accuracy"] == pytest.approx(4 / 6)
    assert report["average_accuracy"] == pytest.approx((3 / 4 + 1 / 2) / 2)
    expected = (4 * 4 + 2 * 2) / 36
    assert report["kappa"] == pytest.approx((4 / 6 - expected) / (1 - expected))
    corn = report["per_class"][0]
    assert corn == {"id": 3, "name": "Corn", "precision": 0.75, "recall": 0.75, "f1": 0.75, "support": 4}


def test_unclassified_pixels_count_against_accuracy():
    report = accuracy_report(np.array([1, 1, 2, 2]), np.array([1, 0, 2, 2]), [1, 2])
    assert report["overall_accuracy"] == 0.75
    assert report["n_unclassified"] == 1
    assert report["per_class"][0]["recall"] == 0.5 and report["per_class"][0]["precision"] == 1.0


def test_agrees_with_scikit_learn_on_a_real_label_image(salinas):
    from sklearn.metrics import cohen_kappa_score, confusion_matrix, precision_recall_fscore_support
    labels = salinas[1]
    rng = np.random.default_rng(0)
    predicted = np.where(rng.random(labels.shape) < 0.2, rng.choice([1, 10, 11, 12, 13, 14], labels.shape), labels)
    report = accuracy_report(labels, predicted, np.unique(labels[labels > 0]))
    keep = labels > 0
    assert report["confusion_matrix"] == confusion_matrix(labels[keep], predicted[keep]).tolist()
    assert report["kappa"] == pytest.approx(cohen_kappa_score(labels[keep], predicted[keep]))
    _, recall, f1, _ = precision_recall_fscore_support(labels[keep], predicted[keep])
    assert [c["recall"] for c in report["per_class"]] == pytest.approx(recall)
    assert [c["f1"] for c in report["per_class"]] == pytest.approx(f1)


def test_reference_without_labels_is_an_error():
    with pytest.raises(ValueError, match="only 0"):
        accuracy_report(np.zeros(4, dtype=int), np.ones(4, dtype=int), [1, 2])
