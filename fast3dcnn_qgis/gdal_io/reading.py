"""Rasters in through GDAL: the scene as core Blocks, its grid, nodata and band metadata.

Reading walks the scene in blocks sized to a memory budget, so a scene of any size runs in bounded
memory. Blocks without a halo are each read once, and GDAL's cache is dropped after each; blocks with
a halo share the file's tiles (or scanlines) with their neighbours, so GDAL's cache may be kept,
bounded, while they are read (``HALO_CACHE_BYTES``).
"""
import math
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from osgeo import gdal, gdal_array

from ..core.blocks import Block, block_windows
from ..core.classes import ClassInfo, ClassTable, hex_color
from ..core.errors import InputError

#: Raw bytes read per block: a few blocks live at once, so memory stays well below a gigabyte.
BLOCK_BYTES = 64 * 2 ** 20
#: A bound for GDAL's block cache while blocks with a halo are read (``read_blocks``' ``cache_bytes``).
#: A block's halo reaches into the file's tiles around it, which GDAL decodes whole: dropping the cache
#: after each block decoded each 256 x 256 tile of a tiled GeoTIFF up to nine times. Kept in a bounded
#: cache, a tile is decoded again only once it has been evicted: reading bench_ceiling.py's 1000 x 1000
#: x 200 int16 GeoTIFF in 16 blocks took 1.7-2.0 s instead of 6.3-7.0 s (2-core Intel Xeon); with 192
#: MB 3.8 s, with 160 MB 4.7 s. The cache stays full while the network runs: classify's peak memory
#: grew by 140 MB with it.
HALO_CACHE_BYTES = 256 * 2 ** 20
#: Pixels per prediction block: about 2 s of fully convolutional work on 2 cores, so progress moves
#: and Cancel answers within seconds, while the halo recomputed around each block stays near 8%.
PREDICTION_BLOCK_PIXELS = 256 * 256


#: What GDAL says each time QGIS opens a raster without georeferencing (a bare pixel grid, as the
#: benchmark scenes are): harmless, and read by analysts as a failure.
_BARE_GRID = "There is no affine transformation and no GCPs"


def _report(kind, code, message):
    """GDAL's own report on stderr, less the bare-grid message."""
    label = {gdal.CE_Warning: "Warning", gdal.CE_Failure: "ERROR", gdal.CE_Fatal: "FATAL"}.get(kind)
    if label and _BARE_GRID not in message:
        sys.stderr.write(f"{label} {code}: {message}\n")


@contextmanager
def gdal_quietly(statistics_sidecars=True):
    """While the plugin's code runs: GDAL reports as usual but the bare-grid message. Without
    ``statistics_sidecars``, rasters opened meanwhile never get the ``.aux.xml`` of statistics GDAL
    would write beside them; with it they do even where ``GDAL_PAM_ENABLED=NO`` is set for the
    process: the class maps keep their category names in that sidecar."""
    previous = gdal.GetThreadLocalConfigOption("GDAL_PAM_ENABLED", None)
    gdal.SetThreadLocalConfigOption("GDAL_PAM_ENABLED", "YES" if statistics_sidecars else "NO")
    gdal.PushErrorHandler(_report)
    try:
        yield
    finally:
        gdal.PopErrorHandler()
        gdal.SetThreadLocalConfigOption("GDAL_PAM_ENABLED", previous)


class RasterError(InputError):
    """A raster GDAL cannot open, read or write, with what to do about it."""


@dataclass
class RasterInfo:
    """What the algorithms need to know of a raster, read once."""
    path: str
    width: int
    height: int
    band_count: int
    dtype: np.dtype
    nodata: float           # the first band's nodata value, or None
    geotransform: tuple
    projection: str         # WKT, '' when the raster has no CRS
    wavelengths: list       # per band, nanometres, or None when the raster does not say
    georeferenced: bool     # False for a bare pixel grid (no CRS and the default geotransform)

    def describe(self):
        return f"{self.width} x {self.height} pixels, {self.band_count} bands"


def pixel_area(info):
    """(area of one pixel, unit): hectares where the raster's CRS is projected (its linear unit
    converted to metres), square map units where that unit is unknown, 1 "pixels" for a bare pixel
    grid or a geographic CRS (whose pixels differ in area with latitude)."""
    from osgeo import osr

    if not info.georeferenced or not info.projection:
        return 1.0, "pixels"
    reference = osr.SpatialReference()
    if reference.ImportFromWkt(info.projection) != 0 or not reference.IsProjected():
        return 1.0, "pixels"
    transform = info.geotransform
    area = abs(transform[1] * transform[5] - transform[2] * transform[4])
    metres = reference.GetLinearUnits()
    return (area * metres ** 2 / 10000, "ha") if metres > 0 else (area, "map units²")


def open_raster(path, parameter="INPUT"):
    """The GDAL dataset of ``path``, or RasterError naming ``parameter``."""
    try:
        dataset = gdal.Open(str(path), gdal.GA_ReadOnly)
    except RuntimeError:  # GDAL's Python exceptions are on (QGIS 3.40's Processing turns them on)
        dataset = None
    if dataset is None:
        raise RasterError(f"{parameter}: GDAL cannot open '{path}' as a raster ({gdal.GetLastErrorMsg()}): "
                          f"choose a raster file GDAL reads (GeoTIFF, ENVI, ...)")
    return dataset


def raster_info(dataset):
    band = dataset.GetRasterBand(1)
    geotransform = tuple(dataset.GetGeoTransform(can_return_null=True) or (0, 1, 0, 0, 0, 1))
    projection = dataset.GetProjection() or ""
    return RasterInfo(
        path=dataset.GetDescription(), width=dataset.RasterXSize, height=dataset.RasterYSize,
        band_count=dataset.RasterCount, dtype=np.dtype(gdal_array.GDALTypeCodeToNumericTypeCode(band.DataType)),
        nodata=band.GetNoDataValue(), geotransform=geotransform, projection=projection,
        wavelengths=_wavelengths(dataset),
        georeferenced=bool(projection) or geotransform != (0, 1, 0, 0, 0, 1))


_NANOMETRES = {"nanometers": 1.0, "nanometres": 1.0, "nm": 1.0, "micrometers": 1e3, "micrometres": 1e3,
               "um": 1e3, "µm": 1e3, "millimeters": 1e6, "mm": 1e6}


def _wavelengths(dataset):
    """Band centre wavelengths in nm from ENVI-style band metadata (``wavelength``, ``wavelength_units``)
    or GDAL's imagery metadata (``CENTRAL_WAVELENGTH_UM``, GDAL 3.10+), or None if any band lacks one."""
    values = []
    for i in range(1, dataset.RasterCount + 1):
        band = dataset.GetRasterBand(i)
        value = band.GetMetadataItem("wavelength")
        units = (band.GetMetadataItem("wavelength_units") or "nanometers").strip().lower()
        if value is None:
            value, units = band.GetMetadataItem("CENTRAL_WAVELENGTH_UM", "IMAGERY"), "um"
        try:
            values.append(float(value) * _NANOMETRES[units])
        except (TypeError, ValueError, KeyError):
            return None
    return values


def _block_shape(info, halo, max_bytes, max_pixels):
    """(rows, cols) of blocks within the budget: full-width strips when there is no halo to
    re-read, near-square tiles when there is (a halo costs least around a square)."""
    bytes_per_pixel = info.band_count * info.dtype.itemsize
    pixels = max(1, max_bytes // bytes_per_pixel)
    if max_pixels:
        pixels = min(pixels, max_pixels)
    if halo == 0 and pixels >= info.width:
        return max(1, pixels // info.width), info.width
    side = max(1, math.isqrt(pixels))
    cols = min(info.width, side)
    return max(1, min(info.height, pixels // cols)), cols


def count_blocks(info, halo=0, max_bytes=BLOCK_BYTES, max_pixels=None):
    rows, cols = _block_shape(info, halo, max_bytes, max_pixels)
    return math.ceil(info.height / rows) * math.ceil(info.width / cols)


def read_blocks(dataset, halo=0, max_bytes=BLOCK_BYTES, max_pixels=None, cache_bytes=0):
    """Yields core Blocks (rows, cols, all bands) over the scene, each with up to ``halo`` pixels
    of context on every side where the scene has them. With a halo and ``cache_bytes``, GDAL's cache
    is kept, bounded by ``cache_bytes``, while the blocks are read, and dropped after the last;
    otherwise it is dropped after each block."""
    info = raster_info(dataset)
    rows, cols = _block_shape(info, halo, max_bytes, max_pixels)
    windows = block_windows(info.height, info.width, rows, cols, halo)
    if not (halo and cache_bytes):
        for window in windows:
            yield read_block(dataset, *window)
        return
    with gdal_cache_at_most(cache_bytes):
        try:
            for window in windows:
                yield read_block(dataset, *window, keep_cache=True)
        finally:
            dataset.FlushCache()


def read_block(dataset, row, col, rows, cols, halo, keep_cache=False):
    """The Block of ``rows`` x ``cols`` pixels at ``row``, ``col`` with its ``halo`` (top, bottom,
    left, right) of context, all bands: one window of a ``block_windows`` tiling. GDAL's cache of the
    dataset is dropped after it unless ``keep_cache``."""
    top, bottom, left, right = halo
    data = dataset.ReadAsArray(col - left, row - top, cols + left + right, rows + top + bottom)
    if data is None:
        raise RasterError(f"reading '{dataset.GetDescription()}' failed at row {row}, column {col}: "
                          f"{gdal.GetLastErrorMsg()}")
    data = data.reshape((dataset.RasterCount,) + data.shape[-2:])
    if not keep_cache:
        # GDAL's block cache, up to 5% of the machine's memory, would hold what the next read does
        # not need: dropping it keeps memory flat.
        dataset.FlushCache()
    return Block(row, col, np.moveaxis(data, 0, -1), tuple(halo))


class _CacheReaders:
    """The readers inside gdal_cache_at_most, and GDAL's cache bound from before the first."""
    lock = threading.Lock()
    count = 0
    saved_bound = 0


@contextmanager
def gdal_cache_at_most(max_bytes):
    """GDAL's block cache bounded by ``max_bytes`` (or by its own bound where that is smaller) while
    the block runs. The cache is one for the whole process, QGIS's rendering included, so the bound
    it had is put back when the last reader inside this leaves (readers may overlap: several
    classifications at once)."""
    with _CacheReaders.lock:
        if not _CacheReaders.count:
            _CacheReaders.saved_bound = gdal.GetCacheMax()
            gdal.SetCacheMax(min(_CacheReaders.saved_bound, max_bytes))
        _CacheReaders.count += 1
    try:
        yield
    finally:
        with _CacheReaders.lock:
            _CacheReaders.count -= 1
            if not _CacheReaders.count:
                gdal.SetCacheMax(_CacheReaders.saved_bound)


def empty_bands(dataset, sample_side=512):
    """0-based indices of bands that hold no valid value (nodata or non-finite) in an evenly
    spaced sample of at most ``sample_side`` x ``sample_side`` pixels: bad detectors and the
    absorption bands some products blank out. One GDAL read, whatever the scene size."""
    info = raster_info(dataset)
    width, height = min(info.width, sample_side), min(info.height, sample_side)
    sample = dataset.ReadAsArray(buf_xsize=width, buf_ysize=height, resample_alg=gdal.GRIORA_NearestNeighbour)
    if sample is None:
        raise RasterError(f"reading '{info.path}' failed: {gdal.GetLastErrorMsg()}")
    sample = sample.reshape(info.band_count, -1)
    valid = np.isfinite(sample) if np.issubdtype(sample.dtype, np.floating) else np.ones(sample.shape, bool)
    for i in range(info.band_count):
        nodata = dataset.GetRasterBand(i + 1).GetNoDataValue()
        if nodata is not None and not math.isnan(nodata):
            valid[i] &= sample[i] != nodata
    return [i for i in range(info.band_count) if not valid[i].any()]


def band_classes(band, ids=None):
    """The ClassTable a class band carries: its category names and colour-table entries (those not
    fully transparent), for ``ids`` (by default every id from 1 that either names or colours)."""
    categories = band.GetRasterCategoryNames() or []
    table = band.GetRasterColorTable()
    entries = table.GetCount() if table is not None else 0
    if ids is None:
        ids = range(1, max(len(categories), entries))
    classes = []
    for class_id in (int(i) for i in ids):
        name = categories[class_id].strip() if class_id < len(categories) else ""
        rgba = table.GetColorEntry(class_id) if class_id < entries else (0, 0, 0, 0)
        classes.append(ClassInfo(class_id, name or None, hex_color(rgba) if rgba[3] else None))
    return ClassTable(classes)
