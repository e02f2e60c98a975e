"""The forest a fused model carries: the same probabilities as scikit-learn's, from arrays alone."""
import numpy as np
import pytest

from fast3dcnn_qgis.core.forest import ForestProblem, PixelForest, fused_probabilities


@pytest.fixture(scope="module")
def fitted(salinas):
    """A forest fitted on 2,000 labelled Salinas-A pixels, and every labelled pixel's spectrum."""
    from sklearn.ensemble import RandomForestClassifier
    cube, labels = salinas
    spectra, classes = cube[labels > 0].astype(np.float32), labels[labels > 0]
    sample = np.random.default_rng(0).choice(len(classes), 2000, replace=False)
    forest = RandomForestClassifier(n_estimators=20, random_state=0).fit(spectra[sample], classes[sample])
    return forest, spectra


def test_probabilities_are_scikit_learns_in_the_models_class_order(fitted):
    forest, spectra = fitted
    assert list(forest.classes_) == [1, 10, 11, 12, 13, 14]
    # The model's classes may hold one the forest never saw (here 7): its column stays 0.
    arrays = PixelForest.from_fitted(forest, [1, 7, 10, 11, 12, 13, 14]).to_arrays()
    ours = PixelForest.from_arrays(arrays, n_features=224, n_classes=7).probabilities(spectra)
    expected = forest.predict_proba(spectra)
    assert np.abs(np.delete(ours, 1, axis=1) - expected).max() < 1e-5 and not ours[:, 1].any()
    assert np.array_equal(np.delete(ours, 1, axis=1).argmax(axis=1), expected.argmax(axis=1))
    assert PixelForest.from_arrays(arrays, 224, 7).probabilities(spectra[:0]).shape == (0, 7)


def test_spectra_without_the_bands_the_trees_split_on_are_refused(fitted):
    forest, spectra = fitted
    kept = PixelForest.from_fitted(forest, forest.classes_)
    with pytest.raises(ValueError, match=r"splits on \d+ bands"):
        kept.probabilities(spectra[:, :10])
    with pytest.raises(ForestProblem, match="forest_features must be bands from 0 to 9"):
        PixelForest.from_arrays(kept.to_arrays(), n_features=10, n_classes=6)
    with pytest.raises(ForestProblem, match="must hold .* nodes of 5 classes"):
        PixelForest.from_arrays(kept.to_arrays(), n_features=224, n_classes=5)


def test_the_fusion_favours_the_class_both_models_find_likely(fitted):
    # The network is sure of class 0, which the forest doubts; both find class 1 likely. The arithmetic
    # mean would take class 0 (0.45 against 0.35); the geometric mean takes class 1.
    network, forest = np.array([[0.8, 0.2, 0.0]]), np.array([[0.1, 0.5, 0.4]])
    both = fused_probabilities(network, forest)
    assert both.dtype == np.float32 and both.argmax() == 1 and np.isclose(both.sum(), 1)
    assert np.allclose(both, fused_probabilities(forest, network))
    # On real spectra: probabilities that sum to 1, and a class no tree voted for stays possible.
    trees = PixelForest.from_fitted(fitted[0], [1, 7, 10, 11, 12, 13, 14]).probabilities(fitted[1][:500])
    uniform = np.full_like(trees, 1 / 7)
    mixed = fused_probabilities(uniform, trees)
    assert np.allclose(mixed.sum(axis=1), 1, atol=1e-5) and (mixed[:, 1] > 0).all()
    assert np.array_equal(mixed.argmax(axis=1), trees.argmax(axis=1))
