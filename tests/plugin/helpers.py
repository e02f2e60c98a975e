"""Small real data derived from the shipped Salinas-A scene for the plugin tests, and probes of
QGIS's own Python."""
import os
import subprocess

import numpy as np
from osgeo import gdal, ogr, osr
from qgis.core import QgsProcessingFeedback

#: A UTM zone-10 grid for Salinas (California) with 3.7 m pixels, as the AVIRIS flight had.
UTM_EPSG = 32610
GEOTRANSFORM = (620000.0, 3.7, 0.0, 4060000.0, 0.0, -3.7)
#: Salinas-A class ids and their published names.
NAMES = {1: "Brocoli_green_weeds_1", 10: "Corn_senesced_green_weeds", 11: "Lettuce_romaine_4wk",
         12: "Lettuce_romaine_5wk", 13: "Lettuce_romaine_6wk", 14: "Lettuce_romaine_7wk"}


def srs(epsg):
    ref = osr.SpatialReference()
    ref.ImportFromEPSG(epsg)
    ref.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return ref


def georeferenced_copy(source, target, epsg=UTM_EPSG, geotransform=GEOTRANSFORM, **options):
    """``source`` rewritten as a GeoTIFF at ``target`` with a CRS and geotransform."""
    dataset = gdal.Translate(str(target), str(source), format="GTiff", outputSRS=srs(epsg).ExportToWkt(),
                             **options)
    dataset.SetGeoTransform(geotransform)
    dataset = None
    return target


def write_labels(target, labels, like):
    """A Byte label raster with the array ``labels`` on the grid of the raster ``like``."""
    reference = gdal.Open(str(like))
    out = gdal.GetDriverByName("GTiff").Create(str(target), labels.shape[1], labels.shape[0], 1, gdal.GDT_Byte)
    geotransform = reference.GetGeoTransform(can_return_null=True)
    if geotransform:
        out.SetGeoTransform(geotransform)
    if reference.GetProjection():
        out.SetProjection(reference.GetProjection())
    out.GetRasterBand(1).WriteArray(labels.astype(np.uint8))
    out = None
    return target


def read(path):
    return gdal.Open(str(path)).ReadAsArray()


def label_polygons(label_raster, target, epsg=4326):
    """The labelled areas of ``label_raster`` as polygons in a GeoPackage reprojected to ``epsg``,
    with the class id in ``class_id`` and its name in ``name``."""
    source = gdal.Open(str(label_raster))
    band = source.GetRasterBand(1)
    memory = gdal.GetDriverByName("Memory").Create("polygons", 0, 0, 0, gdal.GDT_Unknown)
    layer = memory.CreateLayer("labels", srs=osr.SpatialReference(source.GetProjection()),
                               geom_type=ogr.wkbPolygon)
    layer.CreateField(ogr.FieldDefn("class_id", ogr.OFTInteger))
    gdal.Polygonize(band, band, layer, 0)
    cases = " ".join(f"WHEN {i} THEN '{name}'" for i, name in NAMES.items())
    gdal.VectorTranslate(str(target), memory, format="GPKG", dstSRS=srs(epsg).ExportToWkt(),
                         SQLStatement=f"SELECT class_id, CASE class_id {cases} END AS name, GEOMETRY FROM labels",
                         SQLDialect="SQLITE", layerName="ground_truth")
    return target


#: QGIS's own Python on Debian/Ubuntu, as opposed to the project's virtual environment.
SYSTEM_PYTHON = "/usr/bin/python3"


def system_python_has(modules, lacking):
    """Whether QGIS's own Python (without user site-packages) imports all ``modules`` and not ``lacking``:
    the situation of a QGIS user who has not installed the plugin's dependencies yet."""
    if not os.path.exists(SYSTEM_PYTHON):
        return False
    probe = subprocess.run([SYSTEM_PYTHON, "-s", "-c", f"import {', '.join(modules)}\ntry:\n import {lacking}\n"
                            "except ImportError:\n pass\nelse:\n raise SystemExit(1)"], capture_output=True)
    return probe.returncode == 0


def printed(stdout, key):
    """The value a subprocess printed on its line ``KEY value``."""
    return next(line.split(" ", 1)[1] for line in stdout.splitlines() if line.startswith(key + " "))


class Recorded(QgsProcessingFeedback):
    """A run's feedback that keeps its log lines and warnings for the test to read."""

    def __init__(self):
        super().__init__()
        self.lines, self.warnings = [], []

    def pushInfo(self, text):
        self.lines.append(text)
        super().pushInfo(text)

    def pushWarning(self, warning):
        self.warnings.append(warning)
        super().pushWarning(warning)
