"""Rasters out through GDAL: class maps, confidence and probabilities as GeoTIFFs.

Writing goes to a temporary file beside the destination, block by block, and is renamed only when
complete: a failed or cancelled run never leaves a half-written map under the user's name. Class
maps use the smallest integer type, nodata 0, the input's georeferencing, a colour table and
category names, and get a ``.qml`` default style so QGIS opens them coloured and named.
"""
import os
import uuid

import numpy as np
from osgeo import gdal

from ..core.classes import rgb_color
from .reading import RasterError
from .styles import style_path, write_class_style


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
