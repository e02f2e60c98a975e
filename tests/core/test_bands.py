import numpy as np
import pytest

from fast3dcnn_qgis.core.bands import (BandRangeError, format_band_ranges, kept_bands, parse_band_ranges,
                                       valid_mask)


def test_ranges_are_one_based_and_inclusive():
    assert parse_band_ranges("108-112, 154-167,224", 224).tolist() == (
        list(range(107, 112)) + list(range(153, 167)) + [223])
    assert parse_band_ranges("", 10).size == 0
    assert parse_band_ranges("3,1-2,2", 5).tolist() == [0, 1, 2]


@pytest.mark.parametrize("text,fragment", [
    ("1-", "cannot read '1-'"), ("a", "cannot read 'a'"), ("5-3", "runs backwards"),
    ("0", "outside the raster's bands 1-10"), ("9-11", "outside the raster's bands 1-10"),
])
def test_bad_ranges_name_the_part_and_the_fix(text, fragment):
    with pytest.raises(BandRangeError, match=fragment):
        parse_band_ranges(text, 10)


def test_kept_bands_and_round_trip_of_ranges():
    kept = kept_bands(224, "108-112,154-167,224")
    assert len(kept) == 204
    assert format_band_ranges(kept) == "1-107,113-153,168-223"
    with pytest.raises(BandRangeError, match="excludes all 4 bands"):
        kept_bands(4, "1-4")


def test_valid_mask_flags_nodata_and_non_finite():
    block = np.ones((2, 3, 4), dtype=np.float32)
    block[0, 0, 2] = -32768
    block[1, 2, 0] = np.nan
    block[0, 1, 3] = np.inf
    expected = np.array([[False, False, True], [True, True, False]])
    assert (valid_mask(block, -32768) == expected).all()
    ints = np.zeros((1, 2, 3), dtype=np.int16)
    ints[0, 1, 1] = -99
    assert valid_mask(ints, -99).tolist() == [[True, False]]
    assert valid_mask(ints, 1e20).all()  # a nodata the type cannot hold flags nothing
    assert valid_mask(ints, None).all()
