"""``fast3dcnn:importmat``: a MATLAB .mat cube or label image as a GeoTIFF QGIS can open.

The benchmark scenes (Indian Pines, Salinas, Pavia) are published as .mat files, which QGIS cannot
read; importing them lets an analyst reproduce the paper's figures with the other algorithms.
"""
import os

import numpy as np
from osgeo import gdal_array
from qgis.core import (QgsProcessingOutputString, QgsProcessingParameterBoolean, QgsProcessingParameterFile,
                       QgsProcessingParameterRasterDestination, QgsProcessingParameterString)

from ..gdal_io.matfile import read_image
from ..gdal_io.reading import RasterInfo
from ..gdal_io.writing import RasterWriter
from ..setup.dependencies import SCIPY
from .base import Fast3DCNNAlgorithm

#: Bytes written per GDAL call: progress moves and Cancel answers between calls.
CHUNK_BYTES = 16 * 2 ** 20


class ImportMatAlgorithm(Fast3DCNNAlgorithm):
    INPUT = "INPUT"
    VARIABLE = "VARIABLE"
    ZERO_IS_NODATA = "ZERO_IS_NODATA"
    OUTPUT = "OUTPUT"
    IMPORTED_VARIABLE = "IMPORTED_VARIABLE"

    NAME = "importmat"
    REQUIRES = SCIPY
    DISPLAY_NAME = "Import MATLAB hyperspectral cube"
    DESCRIPTION = (
        "Converts a MATLAB .mat file holding a hyperspectral cube (rows x columns x bands) or a label image "
        "(rows x columns) into a GeoTIFF, the form in which the benchmark scenes such as Indian Pines, Salinas "
        "and Pavia University are published.\n"
        "Each slice of the third axis becomes one band, in order; a 2-D array becomes a single-band raster. "
        "Values are copied exactly, in the storage type of the file (a label image stored as floating point "
        "with whole numbers only is written in the smallest integer type that holds it). The GeoTIFF is "
        "compressed (deflate) and pixel-interleaved.\n"
        ".mat files carry no map coordinates, so the result is NOT georeferenced: it lies on a bare pixel "
        "grid with no CRS, one unit per pixel. That is enough to train and classify with this provider "
        "(import the cube and its label image and they share the grid); to place it on a map use the "
        "Georeferencer or 'Assign projection'.\n"
        "MATLAB v7.3 files (HDF5) need the Python package h5py; without it, re-save the variable in MATLAB "
        "or Octave with save('file_v7.mat', 'name', '-v7').")

    def defineParameters(self):
        self.declare(QgsProcessingParameterFile(self.INPUT, self.tr("MATLAB file"), extension="mat"),
                     self.tr("The .mat file (MATLAB v4 to v7, or v7.3 when h5py is installed)."))
        self.declare(QgsProcessingParameterString(self.VARIABLE, self.tr("Variable name"), optional=True),
                     self.tr("The variable to import. Leave empty when the file holds a single 2-D or 3-D numeric "
                             "array (vectors, text and structures are ignored); when it holds several, the "
                             "error message lists their names and sizes."))
        self.declare(QgsProcessingParameterBoolean(self.ZERO_IS_NODATA, self.tr("Treat 0 as nodata"),
                                                   defaultValue=False),
                     self.tr("For label images, where 0 marks unlabelled pixels: declare 0 as the nodata value so "
                             "those pixels show transparent. Leave off for cubes, where 0 is a real measurement."))
        self.declare(QgsProcessingParameterRasterDestination(self.OUTPUT, self.tr("Imported raster")),
                     self.tr("The GeoTIFF to write (.tif): written under a temporary name and renamed when "
                             "complete."))
        self.declareOutput(QgsProcessingOutputString(self.IMPORTED_VARIABLE, self.tr("Imported variable")),
                           self.tr("The name of the variable that was imported."))

    def checkParameterValues(self, parameters, context):
        ok, message = super().checkParameterValues(parameters, context)
        if not ok:
            return ok, message
        output = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        if output and os.path.splitext(output)[1].lower() not in (".tif", ".tiff"):
            return self.reject(self.OUTPUT, output, self.tr("the import writes GeoTIFF; give a file name ending "
                                                            "in .tif"))
        return True, ""

    def execute(self, parameters, context, progress):
        path = self.parameterAsFile(parameters, self.INPUT, context)
        name = self.parameterAsString(parameters, self.VARIABLE, context).strip() or None
        output = self.prepare_destination(self.OUTPUT, self.parameterAsOutputLayer(parameters, self.OUTPUT, context))
        progress.log(self.tr("Reading {}").format(path))
        variable, array = read_image(path, name)
        array = storage_array(array)
        progress.log(self.tr("Variable {}: written as {} band(s) of {}").format(
            variable.describe(), 1 if array.ndim == 2 else array.shape[2], array.dtype))
        progress.progress(0.1)
        nodata = 0 if self.parameterAsBoolean(parameters, self.ZERO_IS_NODATA, context) else None
        write_geotiff(array, output, nodata, {"MATLAB_FILE": os.path.basename(path), "MATLAB_VARIABLE":
                                              variable.name}, progress.part(0.1, 1.0))
        return {self.OUTPUT: output, self.IMPORTED_VARIABLE: variable.name}


def storage_array(array):
    """The array in a type GeoTIFF and QGIS handle, without changing any value.

    Booleans become bytes; int8 (no GDAL type before 3.7), 64-bit integers (QGIS before 3.30 cannot
    show them) and label images stored as whole-number floats take the smallest type holding their
    range.
    """
    if array.dtype == bool:
        return array.astype(np.uint8)
    whole_floats = (array.ndim == 2 and array.dtype.kind == "f" and array.size and np.isfinite(array).all()
                    and np.abs(array).max() < 2 ** 31 and (array == np.round(array)).all())
    if array.dtype in (np.int8, np.int64, np.uint64) or whole_floats:
        low, high = array.min(), array.max()
        target = np.result_type(np.min_scalar_type(int(low)), np.min_scalar_type(int(high)))
        return array.astype(np.int16 if target == np.int8 else target)
    if array.dtype == np.float16:
        return array.astype(np.float32)
    return array


def write_geotiff(array, path, nodata, metadata, progress):
    """Writes (rows, cols) or (rows, cols, bands) as a GeoTIFF without georeferencing, in row
    chunks, through the plugin's writer (temporary name, renamed when complete)."""
    cube = array if array.ndim == 3 else array[:, :, None]
    rows, cols, bands = cube.shape
    grid = RasterInfo(path, cols, rows, bands, cube.dtype, nodata, (0.0, 1.0, 0.0, 0.0, 0.0, 1.0), "", None, False)
    predictor = "3" if cube.dtype.kind == "f" else "2"
    with RasterWriter(path, grid, gdal_array.NumericTypeCodeToGDALTypeCode(cube.dtype), nodata, "OUTPUT", bands,
                      [f"PREDICTOR={predictor}"]) as writer:
        writer.dataset.SetMetadata(metadata)
        step = max(1, CHUNK_BYTES // max(1, cols * bands * cube.dtype.itemsize))
        for row in range(0, rows, step):
            progress.check_cancel()
            writer.write(row, 0, cube[row:row + step] if bands > 1 else cube[row:row + step, :, 0])
            progress.progress(min(rows, row + step) / rows)
        return writer.commit()
