"""The SVM a fused model carries: scikit-learn's decisions and calibrated probabilities, from arrays alone."""
import numpy as np
import pytest

from fast3dcnn_qgis.core.pixel_svm import PixelSVM, SVMProblem, calibrated, platt_sigmoid


def _fitted(spectra, labels, C=10.0):
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    scaler = StandardScaler().fit(spectra)
    return SVC(C=C, gamma=1 / spectra.shape[1]).fit(scaler.transform(spectra), labels), scaler


@pytest.fixture(scope="module")
def sample(salinas):
    """600 labelled Salinas-A pixels to fit on and every labelled pixel's spectrum to score."""
    cube, labels = salinas
    spectra, classes = cube[labels > 0].astype(np.float32), labels[labels > 0]
    chosen = np.random.default_rng(0).choice(len(classes), 600, replace=False)
    return spectra[chosen], classes[chosen], spectra


def test_scores_are_scikit_learns_one_against_the_rest_decisions(sample):
    spectra, labels, everything = sample
    svm, scaler = _fitted(spectra, labels)
    assert svm.decision_function_shape == "ovr" and len(svm.classes_) == 6
    ours = PixelSVM.from_fitted(svm, scaler, svm.classes_).scores(everything)
    assert np.abs(ours - svm.decision_function(scaler.transform(everything))).max() < 1e-3
    # Two classes: one machine, whose sign scikit-learn turns round.
    two = np.isin(labels, [10, 11])
    binary, binary_scaler = _fitted(spectra[two], labels[two])
    ours = PixelSVM.from_fitted(binary, binary_scaler, [10, 11]).scores(everything)
    theirs = binary.decision_function(binary_scaler.transform(everything))
    assert np.abs(ours[:, 1] - theirs).max() < 1e-3 and np.array_equal(ours[:, 0], -ours[:, 1])


def test_probabilities_are_those_of_scikit_learns_calibration_on_five_folds(sample):
    from sklearn.calibration import CalibratedClassifierCV

    spectra, labels, everything = sample
    svm, scaler = _fitted(spectra, labels)
    # The model's classes may hold one the SVM never saw (here 7): its column stays 0.
    ours = calibrated(svm, scaler, spectra, labels, [1, 7, 10, 11, 12, 13, 14]).probabilities(everything)
    theirs = CalibratedClassifierCV(svm, ensemble=False).fit(scaler.transform(spectra), labels) \
        .predict_proba(scaler.transform(everything))
    assert ours.shape == (len(everything), 7) and not ours[:, 1].any()
    assert np.allclose(ours.sum(axis=1), 1, atol=1e-5)
    ours = np.delete(ours, 1, axis=1)
    # The folds differ (scikit-learn's are not shuffled), so the sigmoids a little.
    assert np.abs(ours - theirs).mean() < 0.02
    assert (ours.argmax(axis=1) == theirs.argmax(axis=1)).mean() > 0.99


def test_a_class_of_one_pixel_is_calibrated_on_the_whole_machines_score(sample):
    spectra, labels, everything = sample
    keep = np.flatnonzero(labels != 12)
    spectra, labels = np.concatenate([spectra[keep], spectra[labels == 12][:1]]), \
        np.concatenate([labels[keep], [12]])
    svm, scaler = _fitted(spectra, labels)
    model = calibrated(svm, scaler, spectra, labels, svm.classes_)
    assert np.isfinite(model.sigmoids).all() and (model.sigmoids[:, 0] < 0).all()  # higher scores, likelier
    assert np.isfinite(model.probabilities(everything)).all()


def test_platts_sigmoid_of_parted_scores_stays_finite():
    scores = np.array([-3.0, -2, -1, 1, 2, 3])
    a, b = platt_sigmoid(scores, scores > 0)
    assert np.isfinite([a, b]).all() and a < 0
    p = 1 / (1 + np.exp(a * scores + b))
    # Platt's targets: (3 + 1) / (3 + 2) for the class, 1 / (3 + 2) for the rest, so never 0 or 1.
    assert 0.5 < p[3] < 1 and 0 < p[2] < 0.5


def test_arrays_that_do_not_make_a_machine_are_refused(sample):
    spectra, labels, _ = sample
    svm, scaler = _fitted(spectra, labels)
    arrays = PixelSVM.from_fitted(svm, scaler, svm.classes_).to_arrays()
    assert PixelSVM.from_arrays(arrays, 224, 6).n_support_vectors == len(svm.support_vectors_)
    with pytest.raises(SVMProblem, match=r"svm_mean must hold finite numbers of shape \(200,\)"):
        PixelSVM.from_arrays(arrays, 200, 6)
    with pytest.raises(SVMProblem, match="svm_columns .* must be 2 to 5 increasing class columns"):
        PixelSVM.from_arrays(arrays, 224, 5)
    for name, value in (("gamma", np.array(-1.0)), ("intercepts", arrays["intercepts"][:-1]),
                        ("columns", arrays["columns"][::-1].copy())):
        with pytest.raises(SVMProblem, match=f"svm_{name}"):
            PixelSVM.from_arrays({**arrays, name: value}, 224, 6)
