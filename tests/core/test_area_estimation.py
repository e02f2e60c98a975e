"""The good-practice estimators against the numerical example of Olofsson et al. (2014), section 5:
Table 8's sample of 640 pixels in four strata of a 10-million-pixel map of 30 m pixels (0.09 ha)."""
import numpy as np
import pytest

from fast3dcnn_qgis.core.area_estimation import good_practice_estimates
from fast3dcnn_qgis.core.errors import InputError

#: Table 8: reference pixels by map class (rows: deforestation, forest gain, stable forest, stable
#: non-forest) and reference class (columns, same order), and the map's pixels per class.
COUNTS = [[66, 0, 5, 4], [0, 55, 8, 12], [1, 0, 153, 11], [2, 1, 9, 313]]
MAPPED = [200000, 150000, 3200000, 6450000]


@pytest.fixture(scope="module")
def example():
    return good_practice_estimates(COUNTS, MAPPED, pixel_area=0.09, unit="ha")


def test_area_proportions_are_table_9(example):
    table9 = [[0.0176, 0, 0.0013, 0.0011], [0, 0.0110, 0.0016, 0.0024],
              [0.0019, 0, 0.2967, 0.0213], [0.0040, 0.0020, 0.0179, 0.6212]]
    np.testing.assert_allclose(example["area_proportions"], table9, atol=5e-5)


def test_accuracies_and_their_intervals_are_section_5_2_1(example):
    rounded = lambda key: [round(c[key], 2) for c in example["per_class"]]  # noqa: E731
    assert rounded("users_accuracy") == [0.88, 0.73, 0.93, 0.96]
    assert rounded("users_ci95") == [0.07, 0.10, 0.04, 0.02]
    assert rounded("producers_accuracy") == [0.75, 0.85, 0.93, 0.96]
    # The paper prints 0.23 and 0.01 for the second and fourth, which its own equation 7 does not give.
    assert rounded("producers_ci95") == [0.21, 0.25, 0.03, 0.02]
    assert (round(example["overall_accuracy"], 3), round(example["overall_ci95"], 3)) == (0.947, 0.018)


def test_error_adjusted_areas_are_section_5_2_2(example):
    assert [round(c["area"]) for c in example["per_class"]] == [21158, 11686, 285770, 581386]
    assert [round(c["area_ci95"]) for c in example["per_class"]] == [6158, 3756, 15510, 16282]
    assert [c["mapped_area"] for c in example["per_class"]] == [18000, 13500, 288000, 580500]
    assert example["total_area"] == pytest.approx(900000)


def test_a_mapped_class_without_two_reference_pixels_is_refused_by_name():
    counts = np.array(COUNTS)
    counts[1] = [0, 1, 0, 0]
    with pytest.raises(InputError, match="class Forest gain has fewer"):
        good_practice_estimates(counts, MAPPED, names={2: "Forest gain"})
