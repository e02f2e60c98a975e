"""The points ``fast3dcnn:suggest`` proposes for labelling, as a GeoPackage an analyst edits in QGIS, and
those points read back, once labelled, as extra training labels for ``fast3dcnn:train``.

The layer holds an empty class field named like the model's ground-truth field, so that the analyst
types each point's class where the points are drawn; the class may be given as the class id or as its
name. Points left empty are skipped when training, and counted.
"""
import os
import uuid

import numpy as np
from osgeo import ogr, osr

from .ground_truth import GroundTruthError, is_null, labelled_features, rasterise
from .reading import RasterError

#: The class field of a layer of suggestions where the model's ground truth had none (a label raster).
DEFAULT_CLASS_FIELD = "class"
#: The fields after the class field: (name, OGR type).
FIELDS = (("rank", ogr.OFTInteger), ("predicted", ogr.OFTString), ("predicted_id", ogr.OFTInteger),
          ("confidence", ogr.OFTReal), ("runner_up", ogr.OFTString), ("runner_up_probability", ogr.OFTReal),
          ("reason", ogr.OFTString), ("row", ogr.OFTInteger), ("col", ogr.OFTInteger))


def write_points(path, info, class_field, points):
    """Writes ``points`` (dicts with the FIELDS' values, in rank order) at their pixels' centres on
    ``info``'s grid to the GeoPackage ``path``, under a temporary name renamed when complete."""
    folder, name = os.path.split(os.path.abspath(path))
    temporary = os.path.join(folder, f".{uuid.uuid4().hex[:8]}.{name}")
    srs = None
    if info.projection:
        srs = osr.SpatialReference()
        srs.ImportFromWkt(info.projection)
        srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    x0, dx, rx, y0, ry, dy = info.geotransform
    try:
        source = ogr.GetDriverByName("GPKG").CreateDataSource(temporary)
        if source is None:
            raise RasterError(f"cannot create the GeoPackage '{path}': choose a folder you can write to")
        layer = source.CreateLayer(os.path.splitext(name)[0], srs=srs, geom_type=ogr.wkbPoint)
        layer.CreateField(ogr.FieldDefn(class_field, ogr.OFTString))
        for field, kind in FIELDS:
            layer.CreateField(ogr.FieldDefn(field, kind))
        layer.StartTransaction()
        for point in points:
            feature = ogr.Feature(layer.GetLayerDefn())
            for field, _ in FIELDS:
                feature.SetField(field, point[field])
            x = x0 + (point["col"] + 0.5) * dx + (point["row"] + 0.5) * rx
            y = y0 + (point["col"] + 0.5) * ry + (point["row"] + 0.5) * dy
            feature.SetGeometry(ogr.CreateGeometryFromWkt(f"POINT ({x!r} {y!r})"))
            layer.CreateFeature(feature)
        layer.CommitTransaction()
        source = None
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def labelled_points(layer, info, class_field, classes, transform_context=None, parameter="LABELLED_POINTS"):
    """(label grid on ``info``'s grid, how many points were skipped for an empty class) of the points of
    ``layer`` whose ``class_field`` holds a class of ``classes`` (a ClassTable), by id or by name.
    Any other value fails, naming it and the classes there are."""
    index = layer.fields().lookupField(class_field)
    if index < 0:
        raise GroundTruthError(f"{parameter} ('{layer.name()}') has no field '{class_field}', the class field of "
                               f"the ground truth; fields: {', '.join(layer.fields().names())}")
    empty = sum(1 for feature in layer.getFeatures() if is_null(feature.attribute(index)))
    by_name = {classes.name(class_id).strip().casefold(): int(class_id) for class_id in classes.ids}
    known = ", ".join(f"{class_id} {classes.name(class_id)}" for class_id in classes.ids)

    def class_of(value):
        text = str(value).strip()
        number = text.removesuffix(".0")
        if number.isdigit() and int(number) in classes:
            return int(number)
        if text.casefold() in by_name:
            return by_name[text.casefold()]
        raise GroundTruthError(f"{parameter} ('{layer.name()}') has a point labelled '{text}' in {class_field}, "
                               f"which is none of the ground truth's classes ({known}): give one of their ids "
                               f"or names, or leave it empty to skip the point")

    features = labelled_features(layer, index, info, transform_context, lambda text: None, parameter, class_field,
                                 required=False)
    return rasterise([(class_of(value), geometry) for value, geometry in features], info), empty


def add_labelled_points(scenes, layer, class_field, transform_context, log, parameter="LABELLED_POINTS"):
    """Burns the labelled points of ``layer`` into the ground truth of each training scene they fall
    on (a point's class wins over the ground truth's there), after checking their classes against the
    ground truth's; logs what was added and how many points were skipped for an empty class."""
    classes = scenes[0].truth.classes
    for scene in scenes[1:]:
        classes = classes.merged(scene.truth.classes)
    added, empty = 0, 0
    for scene in scenes:
        grid, empty = labelled_points(layer, scene.info, class_field, classes, transform_context, parameter=parameter)
        on = grid != 0
        scene.truth.grid = np.where(on, grid, scene.truth.grid)
        added += int(on.sum())
    log(f"{parameter} ('{layer.name()}'): {added} labelled pixels added to the ground truth"
        + (f"; {empty} points with an empty {class_field} were skipped" if empty else ""))
    if not added and empty < layer.featureCount():
        raise GroundTruthError(f"{parameter} ('{layer.name()}'): none of its labelled points lies on a training "
                               f"raster: check that the layer belongs to these rasters")
