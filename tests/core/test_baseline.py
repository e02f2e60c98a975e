"""The SVM baseline: spectra gathered from blocks are the scene's own, it is fitted and scored on
exactly the split's pixels, and every training record carries it."""
import numpy as np
import pytest

from fast3dcnn_qgis.core.bands import kept_bands
from fast3dcnn_qgis.core.baseline import (MAX_FIT, BaselinePixels, PixelSpectra, forest_baseline, pixel_baselines,
                                          svm_baseline, verdict)
from fast3dcnn_qgis.core.blocks import array_blocks
from fast3dcnn_qgis.core.splits import labelled_pixels, make_split

from .conftest import SALINAS_BAD_BANDS


def gathered(cube, mask, kept, block=17, limit=None, halo=0):
    spectra = PixelSpectra(mask, kept, **({} if limit is None else {"limit": limit}))
    for _ in spectra.gathering(array_blocks(cube, block, block, halo=halo)):
        pass
    return spectra


def test_spectra_gathered_from_blocks_with_halos_are_the_pixels_own(salinas):
    cube, labels = salinas
    kept = kept_bands(cube.shape[2], SALINAS_BAD_BANDS)
    spectra = gathered(cube, labels != 0, kept, block=13, halo=4)
    rows, cols, _ = labelled_pixels(labels)
    slots = spectra.slots(rows, cols)
    assert np.all(slots >= 0)
    assert np.array_equal(spectra.spectra[slots], cube[rows, cols][:, kept].astype(np.float32))
    # A subset when the labelled pixels exceed the limit; the others are reported as not gathered.
    few = gathered(cube, labels != 0, kept, limit=500)
    assert np.sum(few.slots(rows, cols) >= 0) == 500
    assert np.all(few.slots(np.array([0]), np.array([0])) == -1)  # Salinas-A's corner is unlabelled


def test_svm_is_scored_on_the_splits_test_pixels_and_beats_chance(salinas):
    cube, labels = salinas
    kept = kept_bands(cube.shape[2], SALINAS_BAD_BANDS)
    rows, cols, ids = labelled_pixels(labels)
    split = make_split(rows, cols, ids, "disjoint", seed=0, window=11)
    spectra = gathered(cube, labels != 0, kept)
    test_spectra = spectra.spectra[spectra.slots(rows[split.test], cols[split.test])]
    result = svm_baseline(BaselinePixels(spectra, rows, cols, ids, split, seed=0), pool=test_spectra)
    # The SVM labels a pool of spectra as it labels the test pixels.
    assert np.mean(result.pop("pool_classes") == ids[split.test]) == result["accuracy"]["overall_accuracy"]
    assert result["n_test"] == result["n_test_available"] == len(split.test)
    assert result["n_train"] == min(len(split.train), MAX_FIT) and result["n_train_available"] == len(split.train)
    assert result["accuracy"]["n_pixels"] == len(split.test)
    assert result["accuracy"]["overall_accuracy"] > 0.6  # six classes on unseen ground
    assert result["C"] in (1.0, 10.0, 100.0, 1000.0)


def test_the_forest_is_fitted_and_scored_on_the_svms_pixels(salinas):
    """Both baselines see the same training sample and the same test pixels, and the forest reports
    its fit and predict times; one call gives both (the plugin's child process starts once)."""
    cube, labels = salinas
    kept = kept_bands(cube.shape[2], SALINAS_BAD_BANDS)
    rows, cols, ids = labelled_pixels(labels)
    split = make_split(rows, cols, ids, "disjoint", seed=0, window=11)
    spectra = gathered(cube, labels != 0, kept)
    both = pixel_baselines(spectra, rows, cols, ids, split, seed=0)
    forest, svm = both["forest"], both["svm"]
    assert forest == {**forest_baseline(BaselinePixels(spectra, rows, cols, ids, split, seed=0), seed=0),
                      **{key: forest[key] for key in ("fit_seconds", "predict_seconds", "seconds")}}
    for key in ("n_train", "n_train_available", "n_val", "n_test", "n_test_available"):
        assert forest[key] == svm[key], key
    assert forest["accuracy"]["n_pixels"] == len(split.test)
    assert forest["accuracy"]["class_ids"] == svm["accuracy"]["class_ids"]
    assert forest["accuracy"]["overall_accuracy"] > 0.6
    assert 0 < forest["fit_seconds"] and 0 < forest["predict_seconds"] and forest["method"].startswith("Random forest")
    assert verdict({"overall_accuracy": 0.0}, forest).startswith("The random forest is better than the 3D CNN")


def test_verdict_names_the_better_classifier_and_a_subsample():
    baseline = {"accuracy": {"overall_accuracy": 0.9}, "n_test": 90, "n_test_available": 100}
    assert verdict({"overall_accuracy": 0.8}, baseline).startswith("The SVM baseline is better than the 3D CNN")
    assert "90 of the 100 test pixels" in verdict({"overall_accuracy": 0.8}, baseline)
    assert verdict({"overall_accuracy": 0.95}, baseline).startswith("The 3D CNN is better")
    assert "as good as each other" in verdict({"overall_accuracy": 0.901}, baseline)


@pytest.mark.slow
def test_the_training_record_holds_the_baseline(salinas_classifier):
    record = salinas_classifier.record
    assert record.baseline["n_test"] == record.accuracy["n_pixels"]
    assert record.baseline["accuracy"]["overall_accuracy"] > 0.6
    assert record.to_json()["baseline"]["method"] == "RBF SVM on standardised spectra"
    assert "baseline_seconds" in record.timings and "forest_seconds" in record.timings
    assert record.forest["n_test"] == record.baseline["n_test"] and record.forest["accuracy"]["overall_accuracy"] > 0.6
