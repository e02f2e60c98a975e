"""Rasters in and out through GDAL: the scene as core Blocks, and class maps as styled GeoTIFFs.

Reading walks the scene in blocks sized to a memory budget, so a scene of any size runs in bounded
memory. Writing goes to a temporary file beside the destination, block by block, and is renamed
only when complete: a failed or cancelled run never leaves a half-written map under the user's
name. Class maps use the smallest integer type, nodata 0, the input's georeferencing, a colour
table and category names, and get a ``.qml`` default style so QGIS opens them coloured and named.
"""
import math
import os
import sys
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

import numpy as np
from osgeo import gdal, gdal_array

from .core.blocks import Block, block_windows
from .core.classes import ClassInfo, ClassTable, hex_color, rgb_color
from .core.errors import InputError
from .core.files import written_atomically
from .png import class_map_png

#: Raw bytes read per block: a few blocks live at once, so memory stays well below a gigabyte.
BLOCK_BYTES = 64 * 2 ** 20
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


def read_blocks(dataset, halo=0, max_bytes=BLOCK_BYTES, max_pixels=None):
    """Yields core Blocks (rows, cols, all bands) over the scene, each with up to ``halo`` pixels
    of context on every side where the scene has them."""
    info = raster_info(dataset)
    rows, cols = _block_shape(info, halo, max_bytes, max_pixels)
    for window in block_windows(info.height, info.width, rows, cols, halo):
        yield read_block(dataset, *window)


def read_block(dataset, row, col, rows, cols, halo):
    """The Block of ``rows`` x ``cols`` pixels at ``row``, ``col`` with its ``halo`` (top, bottom,
    left, right) of context, all bands: one window of a ``block_windows`` tiling."""
    top, bottom, left, right = halo
    data = dataset.ReadAsArray(col - left, row - top, cols + left + right, rows + top + bottom)
    if data is None:
        raise RasterError(f"reading '{dataset.GetDescription()}' failed at row {row}, column {col}: "
                          f"{gdal.GetLastErrorMsg()}")
    data = data.reshape((dataset.RasterCount,) + data.shape[-2:])
    # Each block is read once (a halo twice at most), so GDAL's block cache, up to 5% of the
    # machine's memory, would only hold the scene's past: dropping it keeps memory flat.
    dataset.FlushCache()
    return Block(row, col, np.moveaxis(data, 0, -1), tuple(halo))


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


def class_map_preview(path, max_side=560):
    """PNG bytes of a written class map (band 1), read thinned to at most ``max_side`` pixels a side,
    in the colours of its colour table, nodata transparent.
    """
    dataset = open_raster(path, "the class map")
    band = dataset.GetRasterBand(1)
    step = max(1, math.ceil(max(dataset.RasterXSize, dataset.RasterYSize) / max_side))
    labels = band.ReadAsArray(buf_xsize=max(1, dataset.RasterXSize // step),
                              buf_ysize=max(1, dataset.RasterYSize // step))
    colors = band_classes(band, np.unique(labels[labels > 0])).colors
    nodata = band.GetNoDataValue()
    return class_map_png(labels, colors, None if nodata is None else int(nodata))


# -- writing ------------------------------------------------------------------------------------
def smallest_unsigned_type(max_value):
    """The smallest GDAL unsigned integer type holding 0..``max_value``."""
    if max_value <= 255:
        return gdal.GDT_Byte
    if max_value <= 65535:
        return gdal.GDT_UInt16
    return gdal.GDT_UInt32


class RasterWriter:
    """A GeoTIFF on ``info``'s grid, written block by block to a temporary file in the destination
    folder and renamed to ``path`` by ``commit``. As a context manager it discards the temporary
    file when the block raises (an error or Cancel). ``bands`` > 1 writes pixel-interleaved cubes;
    ``options`` add GDAL creation options (a predictor, say)."""

    def __init__(self, path, info, data_type, nodata, parameter="OUTPUT", bands=1, options=()):
        self.path = os.path.abspath(path)
        self.parameter = parameter
        folder = os.path.dirname(self.path)
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as error:
            raise RasterError(f"{parameter}: cannot create the folder of '{path}' ({error.strerror}): "
                              f"choose a writable folder") from None
        # A fresh name beside the destination (same file system, so the final rename is atomic),
        # created by GDAL itself so the file gets the user's usual permissions.
        self.temporary = os.path.join(folder, f".{os.path.basename(self.path)}.{uuid.uuid4().hex[:12]}.part.tif")
        options = ["COMPRESS=DEFLATE", "TILED=YES", "BIGTIFF=IF_SAFER"] + list(options)
        if bands > 1:
            options.append("INTERLEAVE=PIXEL")
        self.dataset = gdal.GetDriverByName("GTiff").Create(
            self.temporary, info.width, info.height, bands, data_type, options)
        if self.dataset is None:
            self.discard()
            raise RasterError(f"{parameter}: cannot create '{path}' ({gdal.GetLastErrorMsg()}): "
                              f"choose a writable folder")
        if info.georeferenced:  # a bare pixel grid stays one, as QGIS shows the input
            self.dataset.SetGeoTransform(info.geotransform)
        if info.projection:
            self.dataset.SetProjection(info.projection)
        self.band = self.dataset.GetRasterBand(1)
        if nodata is not None:
            for band in range(1, bands + 1):
                self.dataset.GetRasterBand(band).SetNoDataValue(nodata)

    def write(self, row, col, array):
        """Writes (rows, cols) values, or (rows, cols, bands) for a multi-band file, at ``row``, ``col``."""
        array = np.asarray(array)
        try:
            written = (self.dataset.WriteArray(array, col, row, interleave="pixel") if array.ndim == 3
                       else self.band.WriteArray(array, col, row))
        except RuntimeError as error:  # where GDAL's Python exceptions are on
            raise self._write_error(str(error)) from None
        if written != 0:
            raise self._write_error(gdal.GetLastErrorMsg())

    def _write_error(self, reason):
        return RasterError(f"{self.parameter}: writing '{self.path}' failed ({reason}): free disk space or "
                           f"choose another folder")

    def commit(self):
        """Closes the file and moves it (and GDAL's .aux.xml sidecar) under the final name."""
        self._close()
        return self._rename()

    def _close(self):
        """GDAL writes cached tiles on closing and reports a full disk only through its error
        handler, so errors are collected there: a file that did not close cleanly is discarded."""
        errors = []
        gdal.PushErrorHandler(lambda kind, code, message: errors.append(message) if kind >= gdal.CE_Failure else None)
        try:
            self.band = None
            self.dataset.FlushCache()
            self.dataset = None
        except RuntimeError as error:  # where GDAL's Python exceptions are on
            errors.append(str(error))
        finally:
            gdal.PopErrorHandler()
        if errors:
            self.discard()
            raise self._write_error(errors[0])

    def _rename(self):
        for suffix in (".aux.xml", ""):
            if os.path.exists(self.temporary + suffix):
                os.replace(self.temporary + suffix, self.path + suffix)
            elif os.path.exists(self.path + suffix):
                os.remove(self.path + suffix)  # a stale sidecar of an older file would lie
        return self.path

    def discard(self):
        self.band = self.dataset = None
        for suffix in ("", ".aux.xml"):
            if os.path.exists(self.temporary + suffix):
                os.remove(self.temporary + suffix)

    def __enter__(self):
        return self

    def __exit__(self, kind, error, trace):
        if kind is not None:
            self.discard()
        return False


class ClassMapWriter(RasterWriter):
    """A class map: ids in the smallest unsigned type, nodata 0 (unclassified), a colour table,
    category names, and after ``commit`` a ``.qml`` paletted style beside it. Classes without a
    colour get the palette's."""

    def __init__(self, path, info, classes, parameter="OUTPUT"):
        self.classes = classes.completed()
        self.class_ids = [int(c) for c in self.classes.ids]
        if not self.class_ids or self.class_ids[0] < 1:
            raise RasterError(f"class ids must be 1 or more (0 marks unclassified pixels), got {self.class_ids}")
        super().__init__(path, info, smallest_unsigned_type(self.class_ids[-1]), 0, parameter)
        # GeoTIFF holds colour tables for Byte and UInt16 only; larger ids rely on the .qml style.
        self.indexed = self.class_ids[-1] <= 65535
        if self.indexed:
            self._set_color_table()

    def _set_color_table(self):
        table = gdal.ColorTable()
        for value in range(self.class_ids[-1] + 1):
            table.SetColorEntry(value, (0, 0, 0, 0))  # unclassified and unused values: transparent
        for info in self.classes:
            table.SetColorEntry(info.id, rgb_color(info.color) + (255,))
        self.band.SetRasterColorTable(table)
        self.band.SetRasterColorInterpretation(gdal.GCI_PaletteIndex)

    def commit(self):
        if self.indexed:
            names = [""] * (self.class_ids[-1] + 1)
            names[0] = "unclassified"
            for info in self.classes:
                names[info.id] = info.label
            self.band.SetRasterCategoryNames(names)
        self._close()
        # Styled before the rename, so a style that cannot be written leaves no map behind either.
        try:
            write_class_style(self.classes, style_path(self.path))
        except (RasterError, OSError):
            self.discard()
            raise
        return self._rename()


def confidence_writer(path, info, parameter="OUTPUT_CONFIDENCE"):
    """A float32 raster of the maximum softmax probability; 0 (never a probability) is nodata."""
    return RasterWriter(path, info, gdal.GDT_Float32, 0, parameter)


def probability_writer(path, info, classes, parameter="OUTPUT_PROBABILITIES"):
    """A float32 raster of the softmax probabilities, one band per class in id order, each band
    described by its class's name; -1 (never a probability) is nodata."""
    writer = RasterWriter(path, info, gdal.GDT_Float32, -1, parameter, bands=len(classes.ids))
    for band, entry in enumerate(classes.completed(), start=1):
        writer.dataset.GetRasterBand(band).SetDescription(entry.label)
    return writer


def map_writers(output_path, info, classes, confidence_path=None, probabilities_path=None):
    """The writers of a class map and, where their paths are given, of its confidence and class
    probabilities, keyed by the core.prediction.BlockPrediction field each one writes. A writer that
    cannot be created discards those already created."""
    writers = {}
    try:
        writers["labels"] = ClassMapWriter(output_path, info, classes)
        if confidence_path:
            writers["confidence"] = confidence_writer(confidence_path, info)
        if probabilities_path:
            writers["probabilities"] = probability_writer(probabilities_path, info, classes)
    except BaseException:
        for writer in writers.values():
            writer.discard()
        raise
    return writers


def rejection_note(rejected, min_confidence):
    """The log line saying how many pixels ``min_confidence`` left out of a class map
    (MIN_CONFIDENCE in QGIS, --min-confidence on a cluster)."""
    return (f"{rejected:,} valid pixels had a top probability below {min_confidence:g} (MIN_CONFIDENCE) and are "
            f"left unclassified (0)")


@contextmanager
def matched_bands(classifier, dataset, info, source, log):
    """(classifier, dataset, info) to classify ``dataset`` with: as they are when the raster has the
    model's bands; when the band lists differ and both the model and the raster carry wavelengths,
    the raster's bands matched to the model's kept bands by wavelength (core.bands.match_bands), as
    a virtual raster of those bands in the model's order, with what was matched logged. Without
    wavelengths the band counts must agree. ``source`` names the raster in messages."""
    from .core.bands import BandMatchError, format_band_ranges, match_bands

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


def style_path(raster_path):
    """The ``.qml`` beside ``raster_path`` that QGIS loads as the layer's default style."""
    return os.path.splitext(raster_path)[0] + ".qml"


def write_class_style(classes, qml_path):
    """Writes the style QGIS loads with the class map (the ``.qml`` beside it): a paletted renderer
    with the colour and name of each class of ``classes`` (a completed ClassTable).

    The XML is QGIS's own style format written directly, not through QGIS's API: the cluster command
    (``cluster.py``) writes the same maps where QGIS is not installed, and QGIS never has to open the
    half-written map to build it. Written to a temporary name and renamed.
    """
    entries = "\n".join(
        f"        <paletteEntry value={quoteattr(str(info.id))} color={quoteattr(info.color)} alpha=\"255\" "
        f"label={quoteattr(info.label)}/>" for info in classes)
    text = f"""<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis version="3.22.0" styleCategories="AllStyleCategories">
  <pipe>
    <provider>
      <resampling enabled="false" zoomedInResamplingMethod="nearestNeighbour" zoomedOutResamplingMethod="nearestNeighbour" maxOversampling="2"/>
    </provider>
    <rasterrenderer type="paletted" band="1" opacity="1" alphaBand="-1" nodataColor="">
      <colorPalette>
{entries}
      </colorPalette>
    </rasterrenderer>
    <brightnesscontrast brightness="0" contrast="0" gamma="1"/>
    <rasterresampler maxOversampling="2"/>
  </pipe>
  <blendMode>0</blendMode>
</qgis>
"""
    try:
        with written_atomically(qml_path) as stream:
            stream.write(text)
    except OSError as error:
        raise RasterError(f"cannot write the style '{qml_path}' ({error.strerror}): free disk space or choose "
                          f"another folder") from None
    return qml_path
