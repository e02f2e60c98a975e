"""Classifying a raster of the same sensor whose band list differs from the training raster's: the
bands are matched by wavelength when both carry wavelengths, and a missing band is refused by name."""
import numpy as np
import processing
import pytest
from osgeo import gdal
from qgis.core import QgsProcessingException, QgsProcessingFeedback

import helpers

# Every test takes the model that fast3dcnn:train trains once for the module.
pytestmark = pytest.mark.slow

WATER_BANDS = "108-112,154-167,224"
#: Synthetic AVIRIS-like band centres (the shipped scene carries none): 400 nm on, 9.5 nm apart.
WAVELENGTHS = 400 + 9.5 * np.arange(224)


def with_wavelengths(source, target, bands, shift=0.0):
    """A GeoTIFF of ``bands`` (0-based) of ``source``, each band labelled with its wavelength + ``shift``."""
    dataset = gdal.Translate(str(target), str(source), bandList=[int(b) + 1 for b in bands])
    for i, b in enumerate(bands, start=1):
        band = dataset.GetRasterBand(i)
        band.SetMetadataItem("wavelength", f"{WAVELENGTHS[b] + shift:.2f}")
        band.SetMetadataItem("wavelength_units", "Nanometers")
    dataset = None
    return str(target)


@pytest.fixture(scope="module")
def trained(salinas, tmp_path_factory):
    folder = tmp_path_factory.mktemp("bands")
    cube = with_wavelengths(helpers.georeferenced_copy(salinas[0], folder / "utm.tif"), folder / "cube.tif",
                            range(224))
    labels = str(helpers.georeferenced_copy(salinas[1], folder / "labels.tif"))
    results = processing.run("fast3dcnn:train", {
        "INPUT": cube, "GROUND_TRUTH": labels, "BANDS": WATER_BANDS, "EPOCHS": 1, "WINDOW_SIZE": 9,
        "OUTPUT_MODEL": str(folder / "m.f3dcnn"), "OUTPUT_REPORT": str(folder / "r.html"),
        "OUTPUT": str(folder / "map.tif")})
    return folder, cube, results


def classify(raster, model, output):
    messages, feedback = [], QgsProcessingFeedback()
    feedback.pushInfo = messages.append
    out = processing.run("fast3dcnn:classify", {"INPUT": raster, "MODEL": model, "OUTPUT": str(output)},
                         feedback=feedback)
    return helpers.read(out["OUTPUT"]), " ".join(messages)


@pytest.mark.parametrize("bands,shift", [
    ([b for b in range(224) if not (107 <= b <= 111 or 153 <= b <= 166 or b == 223)], 0.0),  # no water bands
    (range(224), 2.0),  # another processing level: every centre 2 nm off
], ids=["water_bands_removed", "centres_shifted"])
def test_bands_matched_by_wavelength_give_the_same_map(trained, bands, shift, tmp_path):
    folder, _, results = trained
    raster = with_wavelengths(folder / "utm.tif", tmp_path / "other.tif", list(bands), shift)
    labels, log = classify(raster, results["OUTPUT_MODEL"], tmp_path / "map.tif")
    np.testing.assert_array_equal(labels, helpers.read(results["OUTPUT"]))
    assert "Bands matched by wavelength: the model's 204 bands (1-107,113-153,168-223 of its 224)" in log
    assert f"at most {shift:.2f} nm apart" in log


def test_a_missing_band_is_refused_by_its_number_and_wavelength(trained, tmp_path):
    folder, _, results = trained
    raster = with_wavelengths(folder / "utm.tif", tmp_path / "gap.tif", [b for b in range(224) if b != 49])
    with pytest.raises(QgsProcessingException, match=r"INPUT \('gap'\): the raster has no band within 4.8 nm "
                                                      r"of the model's band 50 \(865.5 nm\)"):
        classify(raster, results["OUTPUT_MODEL"], tmp_path / "map.tif")


def test_without_wavelengths_the_band_counts_must_agree(trained, tmp_path):
    folder, _, results = trained
    fewer = gdal.Translate(str(tmp_path / "fewer.tif"), str(folder / "utm.tif"), bandList=list(range(1, 205)))
    fewer = None
    with pytest.raises(QgsProcessingException, match="has 204 bands but the model was trained on a raster with 224"):
        classify(str(tmp_path / "fewer.tif"), results["OUTPUT_MODEL"], tmp_path / "map.tif")
