"""Ground truth as a label grid on the input raster's exact pixel grid: what the core trains on and
assessment scores against.

- A label raster on the same grid is read as it is (0 and its nodata value mean unlabelled). On
  another grid with georeferencing it is aligned to the input by nearest neighbour, with a warning;
  without georeferencing it must have the input's size.
- A vector layer is reprojected to the raster's CRS and rasterised with GDAL onto the raster's
  grid: a polygon labels the pixels whose centre lies inside it, a point the pixel it falls in, a
  line the pixels it passes through. Where features overlap, the smaller one wins: polygons are
  burnt from the largest to the smallest, then lines, then points, so a tree inside a park or a
  point inside a polygon keeps its own class.
- ``CLASS_FIELD`` holds integer class ids (1 or more; 0 means unlabelled) or text names. Names
  become ids 1..n in sorted order and are kept as the class names. Features whose value is NULL
  or empty, or whose geometry is empty, are skipped with a warning giving their number.
Colours and names the user already has are kept: a label raster's colour table and category
names, or a vector layer's categorised style on ``CLASS_FIELD``.
"""
from dataclasses import dataclass, field

import numpy as np
from osgeo import gdal, ogr, osr

from ..core.classes import ClassTable
from ..core.errors import InputError
from .reading import band_classes, open_raster, raster_info


class GroundTruthError(InputError):
    """Ground truth that cannot become a label grid on the input raster, and how to fix it."""


@dataclass
class GroundTruth:
    grid: np.ndarray                                        # (H, W) int32 class ids, 0 = unlabelled
    classes: ClassTable = field(default_factory=ClassTable)  # the names and colours the user gave
    source: str = ""                                        # what it was read from, for reports
    fields: bool = False  # drawn as polygons or lines: the default split holds out whole fields

    @property
    def class_ids(self):
        values = np.unique(self.grid)
        return values[values != 0]

    def class_counts(self):
        ids, counts = np.unique(self.grid[self.grid != 0], return_counts=True)
        return {int(i): int(n) for i, n in zip(ids, counts)}

    def require_classes(self, minimum=2, parameter="GROUND_TRUTH"):
        """Raises unless at least ``minimum`` classes are labelled on the raster's grid."""
        ids = self.class_ids
        if len(ids) >= minimum:
            return
        if len(ids) == 0:
            raise GroundTruthError(f"{parameter} ({self.source}) labels no pixel of the input raster: "
                                   f"check that it overlaps the raster and holds class ids above 0")
        named = ", ".join(f"{int(c)} ({self.classes.names.get(int(c), 'unnamed')})" for c in ids)
        raise GroundTruthError(
            f"{parameter} ({self.source}) labels only {len(ids)} class on the input raster ({named}): "
            f"a classifier needs at least {minimum}; add reference data for the other classes")


def read_ground_truth(layer, info, class_field=None, transform_context=None, warn=None,
                      parameter="GROUND_TRUTH", field_parameter="CLASS_FIELD", required=True):
    """The GroundTruth of a QGIS raster or vector ``layer`` on the grid of ``info`` (a RasterInfo).

    ``warn(text)`` receives the warnings (alignment, skipped features). Unless ``required``, a vector
    layer none of whose features reaches the raster gives a ground truth without labels.
    """
    from qgis.core import QgsRasterLayer, QgsVectorLayer

    warn = warn or (lambda text: None)
    if layer is None:
        raise GroundTruthError(f"{parameter}: choose a label raster or a vector layer with a class field")
    if isinstance(layer, QgsRasterLayer):
        if layer.providerType() != "gdal":
            raise GroundTruthError(f"{parameter}: '{layer.name()}' is a {layer.providerType()} layer; "
                                   f"use a label raster file (GeoTIFF, ENVI, ...)")
        return raster_ground_truth(layer.source(), info, warn, parameter)
    if isinstance(layer, QgsVectorLayer):
        return vector_ground_truth(layer, info, class_field, transform_context, warn, parameter,
                                   field_parameter, required)
    raise GroundTruthError(f"{parameter}: '{layer.name()}' is neither a raster nor a vector layer")


# -- raster ground truth -------------------------------------------------------------------------
def raster_ground_truth(path, info, warn=None, parameter="GROUND_TRUTH"):
    warn = warn or (lambda text: None)
    dataset = open_raster(path, parameter)
    truth = raster_info(dataset)
    band = dataset.GetRasterBand(1)
    if truth.band_count > 1:
        warn(f"{parameter} has {truth.band_count} bands: its first band is used as the labels")
    if _same_grid(truth, info):
        labels = band.ReadAsArray()
    elif truth.georeferenced and info.georeferenced:
        warn(f"{parameter} ({truth.describe()}) is not on the input raster's pixel grid ({info.describe()}): "
             f"it was aligned to it by nearest neighbour. For exact labels, align it first with "
             f"Raster > Align Rasters using the input raster as reference")
        labels = _warp_to(dataset, info)
    elif (truth.width, truth.height) == (info.width, info.height):
        warn(f"{parameter} and the input raster do not share georeferencing but have the same size: "
             f"their pixels are matched row by row")
        labels = band.ReadAsArray()
    else:
        raise GroundTruthError(
            f"{parameter} has {truth.width} x {truth.height} pixels but the input raster has "
            f"{info.width} x {info.height}, and they are not both georeferenced: give a label raster "
            f"of exactly the input's size, or georeference both so it can be aligned")
    labels = _integer_labels(labels, band.GetNoDataValue(), parameter)
    return GroundTruth(labels, band_classes(band, np.unique(labels[labels != 0])), source=path)


def _same_grid(a, b):
    if (a.width, a.height) != (b.width, b.height):
        return False
    if not (a.georeferenced and b.georeferenced):
        return not (a.georeferenced or b.georeferenced)
    pixel = max(abs(b.geotransform[1]), abs(b.geotransform[5]), 1e-12)
    if any(abs(x - y) > 0.01 * pixel for x, y in zip(a.geotransform, b.geotransform)):
        return False
    return _same_crs(a.projection, b.projection)


def _same_crs(wkt_a, wkt_b):
    if not wkt_a or not wkt_b:
        return True
    a, b = osr.SpatialReference(), osr.SpatialReference()
    a.ImportFromWkt(wkt_a)
    b.ImportFromWkt(wkt_b)
    return bool(a.IsSame(b))


def _warp_to(dataset, info):
    """``dataset``'s first band resampled by nearest neighbour onto ``info``'s grid (0 outside)."""
    target = gdal.GetDriverByName("MEM").Create("", info.width, info.height, 1, gdal.GDT_Float64)
    target.SetGeoTransform(info.geotransform)
    target.SetProjection(info.projection or dataset.GetProjection())
    target.GetRasterBand(1).SetNoDataValue(0)
    first_band = gdal.Translate("", dataset, format="MEM", bandList=[1])
    gdal.Warp(target, first_band, resampleAlg="near", dstNodata=0)
    return target.GetRasterBand(1).ReadAsArray()


def _integer_labels(values, nodata, parameter):
    values = np.asarray(values)
    unlabelled = ~np.isfinite(values) if np.issubdtype(values.dtype, np.floating) else np.zeros(values.shape, bool)
    if nodata is not None and np.isfinite(nodata):
        unlabelled |= values == nodata
    kept = np.where(unlabelled, 0, values)
    if np.any(kept < 0) or np.any(kept != np.round(kept)):
        bad = kept[(kept < 0) | (kept != np.round(kept))][0]
        raise GroundTruthError(f"{parameter} holds the value {bad}: class ids must be whole numbers, "
                               f"1 or more, with 0 for unlabelled pixels")
    if kept.max(initial=0) > np.iinfo(np.int32).max:
        raise GroundTruthError(f"{parameter} holds class ids up to {kept.max()}: keep them below 2^31")
    return kept.astype(np.int32)


# -- vector ground truth -------------------------------------------------------------------------
def class_field_problem(layer, class_field, parameter="GROUND_TRUTH"):
    """What is wrong with ``class_field`` as the class field of vector ``layer`` (the fix, naming the
    layer's fields), or None: checked before an algorithm runs and again when the layer is read."""
    names = ", ".join(layer.fields().names())
    if not class_field:
        return (f"a vector {parameter} needs the field that holds each feature's class; fields of "
                f"'{layer.name()}': {names}")
    if layer.fields().lookupField(class_field) < 0:
        return f"'{layer.name()}' has no such field; choose one of {names}"
    return None


def vector_ground_truth(layer, info, class_field, transform_context=None, warn=None,
                        parameter="GROUND_TRUTH", field_parameter="CLASS_FIELD", required=True):
    warn = warn or (lambda text: None)
    problem = class_field_problem(layer, class_field, parameter)
    if problem:
        raise GroundTruthError(f"{field_parameter} = '{class_field or ''}': {problem}")
    if not info.georeferenced:
        raise GroundTruthError(f"the input raster has no georeferencing, so the vector {parameter} cannot be "
                               f"placed on its pixels: georeference the raster or use a label raster")
    index = layer.fields().lookupField(class_field)
    features = labelled_features(layer, index, info, transform_context, warn, parameter, class_field, required)
    source = f"{layer.name()}, field {class_field}"
    if not features:
        return GroundTruth(np.zeros((info.height, info.width), dtype=np.int32), source=source)
    class_of, class_names = _class_ids([value for value, _ in features], layer.fields().at(index), class_field,
                                       field_parameter)
    grid = rasterise([(class_of(value), geometry) for value, geometry in features], info)
    style_colors, style_names = _style_classes(layer, class_field, class_of)
    ids = np.unique(grid[grid != 0])
    truth = GroundTruth(grid, ClassTable.from_ids(ids, {**style_names, **class_names}, style_colors),
                        source=source,
                        fields=any(geometry.constGet().dimension() > 0 for _, geometry in features))
    if not truth.class_ids.size:
        raise GroundTruthError(
            f"{parameter} ('{layer.name()}') overlaps the input raster but covers no pixel centre: polygons "
            f"smaller than a pixel label nothing; use points or larger polygons")
    return truth


def labelled_features(layer, index, info, transform_context, warn, parameter, class_field, required=True):
    """(class value, geometry in the raster's CRS) of the features over the raster that have both;
    the others are counted in a warning. None at all fails where ``required``."""
    from qgis.core import (QgsCoordinateReferenceSystem, QgsCoordinateTransformContext, QgsFeatureRequest,
                           QgsRectangle)

    raster_crs = QgsCoordinateReferenceSystem.fromWkt(info.projection) if info.projection else None
    request = QgsFeatureRequest().setSubsetOfAttributes([index])
    if raster_crs is not None and raster_crs.isValid() and layer.crs().isValid():
        request.setDestinationCrs(raster_crs, transform_context or QgsCoordinateTransformContext())
    else:
        warn(f"the input raster or {parameter} has no CRS: the features are taken to be in the raster's "
             f"coordinates")
    x0, dx, _, y0, _, dy = info.geotransform
    request.setFilterRect(QgsRectangle(x0, y0 + dy * info.height, x0 + dx * info.width, y0))
    features, skipped_value, skipped_geometry = [], 0, 0
    for feature in layer.getFeatures(request):
        value = feature.attribute(index)
        geometry = feature.geometry()
        if is_null(value):
            skipped_value += 1
        elif geometry is None or geometry.isEmpty():
            skipped_geometry += 1
        else:
            features.append((value, geometry))
    if skipped_value:
        warn(f"{skipped_value} features of {parameter} have no value in {class_field} (NULL or empty) "
             f"and were skipped")
    if skipped_geometry:
        warn(f"{skipped_geometry} features of {parameter} have an empty geometry and were skipped")
    if not features and required:
        raise GroundTruthError(
            f"no feature of {parameter} ('{layer.name()}') with a value in {class_field} overlaps the input "
            f"raster: check that both cover the same area (layer CRS {layer.crs().authid() or 'unknown'})")
    return features


def is_null(value):
    """True for an attribute that holds no class: NULL, or text that is empty or only spaces."""
    if value is None or (hasattr(value, "isNull") and value.isNull()):
        return True
    return isinstance(value, str) and not value.strip()


def _class_ids(values, qfield, class_field, field_parameter):
    """(value -> class id, {id: name}): numbers are ids, texts are names numbered 1..n in sorted order."""
    if qfield.isNumeric():
        numbers = np.asarray(values, dtype=np.float64)
        bad = numbers[(numbers < 0) | (numbers != np.round(numbers))]
        if bad.size:
            raise GroundTruthError(f"{field_parameter} = '{class_field}' holds {bad[0]:g}: numeric class ids must "
                                   f"be whole numbers, 1 or more (0 = unlabelled)")
        return (lambda value: int(value)), {}
    names = sorted({str(value).strip() for value in values})
    ids = {name: i for i, name in enumerate(names, start=1)}
    return (lambda value: ids[str(value).strip()]), {i: name for name, i in ids.items()}


def _style_classes(layer, class_field, class_of):
    """(colours, labels) of the layer's categorised style when it classifies by ``class_field``."""
    renderer = layer.renderer()
    if renderer is None or renderer.type() != "categorizedSymbol" or renderer.classAttribute() != class_field:
        return {}, {}
    colors, labels = {}, {}
    for category in renderer.categories():
        if category.symbol() is None or is_null(category.value()):
            continue
        try:
            class_id = class_of(category.value())
        except (KeyError, TypeError, ValueError):
            continue  # a style category with no feature here
        colors[class_id] = category.symbol().color().name()
        if category.label().strip():
            labels[class_id] = category.label().strip()
    return colors, labels


def _burn_order(item):
    """Sort key: large polygons first, then smaller ones, lines, points (burnt last, so they win).
    The geometry's dimension (2 areas, 1 lines, 0 points) says which, in every QGIS version."""
    geometry = item[1]
    dimension = geometry.constGet().dimension()
    return (0, -geometry.area()) if dimension == 2 else (3 - dimension, 0.0)


def rasterise(labelled, info):
    """Burns (class id, QgsGeometry) pairs onto ``info``'s grid in burn order; later ones win."""
    source = ogr.GetDriverByName("Memory").CreateDataSource("ground_truth")
    srs = None
    if info.projection:
        srs = osr.SpatialReference()
        srs.ImportFromWkt(info.projection)
    layer = source.CreateLayer("labels", srs=srs, geom_type=ogr.wkbUnknown)
    layer.CreateField(ogr.FieldDefn("class_id", ogr.OFTInteger64))
    for class_id, geometry in sorted(labelled, key=_burn_order):
        if geometry.constGet().hasCurvedSegments():
            geometry.convertToStraightSegment()
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetField("class_id", int(class_id))
        feature.SetGeometry(ogr.CreateGeometryFromWkb(bytes(geometry.asWkb())))
        layer.CreateFeature(feature)
    target = gdal.GetDriverByName("MEM").Create("", info.width, info.height, 1, gdal.GDT_Int32)
    target.SetGeoTransform(info.geotransform)
    if info.projection:
        target.SetProjection(info.projection)
    gdal.RasterizeLayer(target, [1], layer, options=["ATTRIBUTE=class_id"])
    return target.GetRasterBand(1).ReadAsArray().astype(np.int32)
