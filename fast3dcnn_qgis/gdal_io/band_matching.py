"""A model's bands found in another raster by wavelength, so a model trained on one sensor product
classifies another of the same sensor whose band list differs (bad bands dropped, say)."""
import uuid
from contextlib import contextmanager

from osgeo import gdal

from ..core.bands import BandMatchError, format_band_ranges, match_bands
from .reading import raster_info


@contextmanager
def matched_bands(classifier, dataset, info, source, log):
    """(classifier, dataset, info) to classify ``dataset`` with: as they are when the raster has the
    model's bands; when the band lists differ and both the model and the raster carry wavelengths,
    the raster's bands matched to the model's kept bands by wavelength (core.bands.match_bands), as
    a virtual raster of those bands in the model's order, with what was matched logged. Without
    wavelengths the band counts must agree. ``source`` names the raster in messages."""
    trained_on = classifier.record.wavelengths if classifier.record else None
    same = info.band_count == classifier.input_band_count and not (
        trained_on and info.wavelengths and max(abs(a - b) for a, b in zip(trained_on, info.wavelengths)) > 1.0)
    if same or not (trained_on and info.wavelengths):
        classifier.check_band_count(info.band_count, source)
        yield classifier, dataset, info
        return
    kept = classifier.reducer.band_indices
    try:
        bands = match_bands(trained_on, kept, info.wavelengths)
    except BandMatchError as error:
        raise BandMatchError(f"{source}: {error}") from None
    shift = max(abs(info.wavelengths[j] - trained_on[k]) for k, j in zip(kept, bands))
    log(f"Bands matched by wavelength: the model's {len(kept)} bands ({format_band_ranges(kept)} of its "
        f"{classifier.input_band_count}) are read from bands {format_band_ranges(bands)} of the raster's "
        f"{info.band_count}, at most {shift:.2f} nm apart")
    path = f"/vsimem/fast3dcnn-bands-{uuid.uuid4().hex}.vrt"
    selection = gdal.Translate(path, dataset, format="VRT", bandList=[int(j) + 1 for j in bands])
    try:
        yield classifier.reading_kept_bands(), selection, raster_info(selection)
    finally:
        selection = None
        gdal.Unlink(path)
