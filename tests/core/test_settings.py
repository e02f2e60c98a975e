"""The limits, defaults and split rules that the core and the plugin share, and that reading them needs no Keras."""
import os
import subprocess
import sys

import pytest

from fast3dcnn_qgis.core.errors import InputError
from fast3dcnn_qgis.core.settings import (COMPONENTS, DEFAULT_RECIPE, RECIPES, SPLIT_METHODS, WINDOW, TrainingConfig,
                                          TrainingSettings, check_components, check_window, split_value_problem)

# Part of the suite that `make test-debian-unstable` runs (pytest -m debian_unstable).
pytestmark = pytest.mark.debian_unstable


@pytest.mark.parametrize("window", [2, 7, 33])
def test_windows_must_lie_from_9_to_31(window):
    with pytest.raises(InputError, match=f"window size {window} is not an odd number from 9 to 31"):
        check_window(window)


def test_an_even_window_gets_its_odd_neighbours():
    with pytest.raises(InputError, match="window size 12 is even.*use 11 or 13"):
        check_window(12)


def test_window_limits_follow_the_network_and_the_raster():
    assert (WINDOW.default, WINDOW.minimum, WINDOW.maximum) == (11, 9, 31)
    check_window(9)
    check_window(31, raster_size=(31, 40))
    with pytest.raises(InputError, match=r"window size 13 is larger than the raster \(40 x 12 pixels\)"):
        check_window(13, raster_size=(40, 12))


def test_components_need_the_spectral_depth_and_the_bands():
    assert (COMPONENTS.default, COMPONENTS.minimum) == (20, 15)
    check_components(15, kept_bands=15)
    with pytest.raises(InputError, match="14 components are too few"):
        check_components(14)
    with pytest.raises(InputError, match="only 16 bands are kept"):
        check_components(20, kept_bands=16)


@pytest.mark.parametrize("method,good,bad", [("fraction", 0.1, 1.5), ("count", 50, 2.5), ("disjoint", None, 0),
                                             ("grouped", 0.3, 1.0), ("auto", None, -0.2)])
def test_split_values_are_checked_once_for_every_caller(method, good, bad):
    assert split_value_problem(method, good) is None
    assert method in split_value_problem(method, bad)
    with pytest.raises(InputError, match=f"the {method} split needs"):
        TrainingSettings(split=method, split_value=bad).check()


def test_every_split_method_is_known_and_others_are_named():
    # Graphical models store the dialog's choice by position: new methods only ever come at the end.
    assert SPLIT_METHODS == ("paper", "fraction", "count", "disjoint", "grouped", "auto")
    assert TrainingSettings().split == "auto"
    assert split_value_problem("paper", None) is None
    assert "'random' is not one of paper, fraction, count, disjoint, grouped, auto" in \
        split_value_problem("random", None)


def test_settings_splits_and_classes_import_without_keras():
    code = ("import sys; import fast3dcnn_qgis.core.settings, fast3dcnn_qgis.core.splits, "
            "fast3dcnn_qgis.core.classes, fast3dcnn_qgis.core.record, fast3dcnn_qgis.core.bands; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('keras', 'tensorflow')))")
    root = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir)
    printed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             cwd=root).stdout
    assert printed.strip() == "[]"


def test_the_default_recipe_is_robust_and_the_paper_recipe_is_the_papers():
    assert TrainingConfig() == TrainingConfig.recipe(DEFAULT_RECIPE) and DEFAULT_RECIPE == "robust"
    paper = TrainingConfig.recipe("paper", window=13)
    assert (paper.epochs, paper.window, paper.component_scale, paper.spectral_noise) == (50, 13, "each", 0.0)
    assert (paper.learning_rate, paper.schedule, paper.initializer) == (1e-3, "constant", "glorot_uniform")
    assert not paper.validation_into_training and not paper.standardise_bands
    fields = set(TrainingConfig().as_dict())
    assert all(set(recipe) <= fields for recipe in RECIPES.values())
    robust = TrainingConfig()
    assert (robust.epochs, robust.component_scale, robust.validation_into_training, robust.spectral_noise) == \
        (40, "first", True, 0.02)
    assert (robust.learning_rate, robust.schedule, robust.initializer) == (2.5e-3, "cosine", "he_normal")
    assert robust.standardise_bands and robust.validation_every == 2 and paper.validation_every == 1
    with pytest.raises(InputError, match="'fast' is not one of paper, robust"):
        TrainingConfig.recipe("fast")
