import numpy as np
import pytest
from sklearn.decomposition import PCA

from fast3dcnn_qgis.core.blocks import array_blocks
from fast3dcnn_qgis.core.errors import InputError
from fast3dcnn_qgis.core.reduction import ComponentCountError, SpectralReducer


def _fit(cube, nodata=None, components=5, chunk=500, rows=8):
    reducer = SpectralReducer(np.arange(cube.shape[2]), nodata, components, chunk_pixels=chunk)
    return reducer.fit_blocks(b.data for b in array_blocks(cube, rows))


def test_streamed_fit_matches_batch_pca_and_standardises(salinas):
    cube = salinas[0][..., :60].astype(np.float64)
    reducer = _fit(cube, components=5, chunk=700)
    pixels = cube.reshape(-1, 60)
    reference = PCA(5).fit(pixels)
    # The leading components and the variance kept agree with a batch PCA on the whole scene (the
    # streamed fit approximates the trailing components slightly).
    assert np.allclose(np.abs(reducer.components_[:3] @ reference.components_[:3].T), np.eye(3), atol=2e-3)
    assert reducer.explained_variance_ratio_.sum() == pytest.approx(reference.explained_variance_ratio_.sum(),
                                                                   rel=1e-4)
    scores, valid = reducer.transform_block(cube)
    assert valid.all() and scores.dtype == np.float32
    flat = scores.reshape(-1, 5)
    assert np.allclose(flat.mean(axis=0), 0, atol=1e-3)
    # Unit variance from the streamed variances: exact for the leading components, within a few
    # percent for the trailing ones that the incremental fit approximates.
    assert np.allclose(flat.std(axis=0)[:3], 1, atol=1e-3)
    assert np.allclose(flat.std(axis=0), 1, atol=0.05)


def test_invalid_pixels_never_enter_the_fit_and_score_zero(salinas):
    cube = salinas[0][..., :40].astype(np.float32)
    clean = _fit(cube, components=4)
    dirty = cube.copy()
    dirty[:20, :, 3] = -32768          # nodata in one band of a strip
    dirty[30, 30, 0] = np.nan
    dirty[31, 31, :] = 1e30            # a wild value on a pixel marked nodata elsewhere
    dirty[31, 31, 5] = -32768
    reducer = _fit(dirty, nodata=-32768, components=4)
    assert reducer.n_fit_pixels_ == cube.shape[0] * cube.shape[1] - 20 * cube.shape[1] - 2
    scores, valid = reducer.transform_block(dirty)
    assert not valid[:20].any() and not valid[30, 30] and not valid[31, 31]
    assert (scores[~valid] == 0).all()
    # The invalid pixels did not drag the fit: it stays close to the fit on the rest of the scene.
    rest = _fit(cube[20:], components=4)
    assert np.allclose(reducer.mean_, rest.mean_, rtol=0.02)
    assert not np.allclose(reducer.mean_, clean.mean_, rtol=1e-6)


def test_arrays_round_trip_without_objects(salinas):
    cube = salinas[0][..., :30]
    reducer = _fit(cube, nodata=-99, components=3)
    arrays = reducer.to_arrays()
    assert all(isinstance(v, np.ndarray) and v.dtype != object for v in arrays.values())
    again = SpectralReducer.from_arrays(arrays)
    assert again.nodata == -99
    assert np.array_equal(again.transform_block(cube)[0], reducer.transform_block(cube)[0])


def test_too_many_components_and_no_valid_pixel_are_clear_errors(salinas):
    cube = salinas[0][..., :6]
    with pytest.raises(ComponentCountError, match="7 components asked for, but 6 bands are kept"):
        _fit(cube, components=7)
    with pytest.raises(ComponentCountError, match="no valid pixel"):
        _fit(np.full((4, 4, 6), -1, dtype=np.int16), nodata=-1, components=2)


def test_constant_bands_do_not_break_standardisation():
    rng = np.random.default_rng(0)
    cube = np.concatenate([rng.normal(size=(30, 30, 3)), np.full((30, 30, 2), 7.0)], axis=-1)
    reducer = _fit(cube, components=5)
    scores, _ = reducer.transform_block(cube)
    assert np.isfinite(scores).all()


def test_scaling_by_the_first_component_keeps_the_relative_variances(salinas):
    cube = salinas[0][..., :60].astype(np.float64)
    each = _fit(cube, components=5, chunk=700)
    first = SpectralReducer(np.arange(60), None, 5, chunk_pixels=700, scale="first")
    first.fit_blocks(b.data for b in array_blocks(cube, 8))
    std = first.transform_block(cube)[0].reshape(-1, 5).std(axis=0)
    assert std[0] == pytest.approx(1, abs=1e-3)
    assert np.allclose(std, np.sqrt(first.explained_variance_ / first.explained_variance_[0]), rtol=0.05)
    assert np.allclose(first.transform_block(cube)[0] * first.score_scale_[0],
                       each.transform_block(cube)[0] * each.score_scale_, rtol=1e-4, atol=1e-2)
    with pytest.raises(InputError, match="'unit' is not one of each, first"):
        SpectralReducer(np.arange(60), None, 5, scale="unit")


def _fit_standardised(cube, nodata=None, components=5, rows=8, step=1):
    reducer = SpectralReducer(np.arange(cube.shape[2]), nodata, components, chunk_pixels=700,
                              standardise_bands=True)
    reducer.fit_band_statistics((b.data for b in array_blocks(cube, rows)), step)
    return reducer.fit_blocks((b.data for b in array_blocks(cube, rows)), step)


def test_standardised_bands_give_the_pca_of_the_correlation_matrix(salinas):
    cube = salinas[0][..., :60].astype(np.float64)
    dirty = cube.copy()
    dirty[:5, :, 7] = -32768  # nodata: left out of the band statistics as of the fit
    reducer = _fit_standardised(dirty, nodata=-32768)
    pixels = cube[5:].reshape(-1, 60)
    # The streamed band statistics are the batch ones over the valid pixels, block after block.
    assert np.allclose(reducer.band_mean_, pixels.mean(axis=0), rtol=1e-10)
    assert np.allclose(reducer.band_scale_, pixels.std(axis=0), rtol=1e-10)
    standardised = (pixels - pixels.mean(axis=0)) / pixels.std(axis=0)
    reference = PCA(3).fit(standardised)
    scores = reducer.transform_block(dirty)[0][5:].reshape(-1, 5)[:, :3] * reducer.score_scale_[:3]
    # Raw pixels in, the correlation PCA's scores out (up to each component's sign).
    expected = reference.transform(standardised)
    assert np.allclose(np.abs(np.sum(scores * expected, axis=0)) / np.sum(expected ** 2, axis=0), 1, atol=2e-3)
    again = SpectralReducer.from_arrays(reducer.to_arrays())
    # Chunks are a memory bound, not stored; chunked otherwise, float32 products may differ in the last bit
    # (OpenBLAS's AVX2 kernels: up to 2e-6 here).
    again.chunk_pixels = reducer.chunk_pixels
    assert np.array_equal(again.transform_block(dirty)[0], reducer.transform_block(dirty)[0])


def test_standardised_bands_ignore_the_units_of_a_band(salinas):
    """A band recorded a thousand times brighter takes over the covariance PCA's first component but
    does not change the correlation PCA's scores."""
    cube = salinas[0][..., :40].astype(np.float64)
    loud = cube.copy()
    loud[..., 0] *= 1000
    quiet_scores = _fit_standardised(cube).transform_block(cube)[0]
    assert np.allclose(_fit_standardised(loud).transform_block(loud)[0], quiet_scores, rtol=1e-3, atol=1e-3)
    covariance = _fit(loud, components=5, chunk=700)
    assert abs(covariance.components_[0, 0]) > 0.99
    with pytest.raises(ValueError, match="fit_band_statistics"):
        SpectralReducer(np.arange(40), None, 5, standardise_bands=True).fit_blocks([cube])
    with pytest.raises(ComponentCountError, match="no valid pixel"):
        SpectralReducer(np.arange(6), -1, 2, standardise_bands=True).fit_band_statistics(
            [np.full((4, 4, 6), -1, dtype=np.int16)])
