"""The rasters one training reads: INPUT and any MORE_INPUTS of the same sensor, each with its
ground truth (one vector layer covering them all, or a label raster each), laid on one canvas
(core.mosaic) so the PCA is fitted over all of them and each class split over all of them.
"""
from dataclasses import dataclass

import numpy as np
from qgis.core import QgsVectorLayer

from ..core.classes import ClassTable
from ..core.errors import InputError
from ..core.mosaic import Mosaic
from .ground_truth import GroundTruthError, read_ground_truth
from .reading import open_raster, raster_info, read_blocks

INPUT, MORE_INPUTS = "INPUT", "MORE_INPUTS"
GROUND_TRUTH, MORE_GROUND_TRUTH, CLASS_FIELD = "GROUND_TRUTH", "MORE_GROUND_TRUTH", "CLASS_FIELD"


@dataclass
class TrainingScene:
    name: str
    dataset: object   # the open GDAL dataset
    info: object      # its RasterInfo
    truth: object     # its GroundTruth on its grid


def pairing_problem(rasters, truth, more_truths):
    """What is wrong with how ground truth is given for ``rasters`` (MORE_INPUTS layers) and the fix, or None."""
    if not rasters:
        return None if not more_truths else (
            f"{MORE_GROUND_TRUTH} labels {MORE_INPUTS}, which is empty: add the rasters, or leave it empty")
    if isinstance(truth, QgsVectorLayer):
        return None if not more_truths else (
            f"{GROUND_TRUTH} is a vector layer, which labels every raster: leave {MORE_GROUND_TRUTH} empty, or "
            f"give label rasters for {GROUND_TRUTH} and {MORE_GROUND_TRUTH}")
    if len(more_truths) != len(rasters):
        return (f"{len(rasters)} further rasters ({MORE_INPUTS}) need as many label rasters in {MORE_GROUND_TRUTH}, "
                f"in the same order, but {len(more_truths)} are given; or use one vector layer as {GROUND_TRUTH}")
    return None


def read_scenes(layers, truths, class_field, transform_context, progress):
    """A TrainingScene per raster layer; ``truths`` are their ground-truth layers (one vector layer
    repeated, or a label raster each). Checks that the rasters come from one sensor (band count,
    nodata, wavelengths) and numbers text class names alike in all of them."""
    scenes = []
    for index, (layer, truth_layer) in enumerate(zip(layers, truths)):
        key = INPUT if index == 0 else f"{MORE_INPUTS} ({layer.name()})"
        truth_key = GROUND_TRUTH if index == 0 or isinstance(truth_layer, QgsVectorLayer) else \
            f"{MORE_GROUND_TRUTH} ({truth_layer.name()})"
        dataset = open_raster(layer.source(), key)
        info = raster_info(dataset)
        progress.log(f"{layer.name()}: {info.describe()}")
        truth = read_ground_truth(truth_layer, info, class_field, transform_context, progress.warn, truth_key,
                                  CLASS_FIELD, required=index == 0)
        if index and not truth.class_ids.size:
            progress.log(f"{key}: {truth_key} labels none of its pixels: it is read as unlabelled ground, for the "
                         f"PCA and for co-training's pool (the ground a map will cover)")
        scenes.append(TrainingScene(layer.name(), dataset, info, truth))
    _check_one_sensor(scenes, progress.warn)
    if isinstance(truths[0], QgsVectorLayer) and any(s.truth.classes.names for s in scenes):
        _number_names_alike(scenes)
    return scenes


def _check_one_sensor(scenes, warn):
    first = scenes[0].info
    for scene in scenes[1:]:
        info = scene.info
        if info.band_count != first.band_count:
            raise InputError(f"{MORE_INPUTS}: '{scene.name}' has {info.band_count} bands but {INPUT} has "
                             f"{first.band_count}: train on rasters of one sensor with the same bands")
        if info.nodata != first.nodata:
            raise InputError(f"{MORE_INPUTS}: '{scene.name}' has nodata value {info.nodata} but {INPUT} has "
                             f"{first.nodata}: give the rasters the same nodata value (e.g. with "
                             f"Raster > Conversion > Translate)")
        if first.wavelengths and info.wavelengths and \
                max(abs(a - b) for a, b in zip(first.wavelengths, info.wavelengths)) > 1.0:
            warn(f"the band wavelengths of '{scene.name}' differ from those of {INPUT} by more than 1 nm: check "
                 f"that the rasters come from the same sensor and processing")


def _number_names_alike(scenes):
    """Text class names are numbered 1..n in sorted order per raster; renumbers every raster's
    labels by the sorted names of all of them, so a name has one id everywhere."""
    names = sorted({name for scene in scenes for name in scene.truth.classes.names.values()})
    ids = {name: i for i, name in enumerate(names, start=1)}
    for scene in scenes:
        own = scene.truth.classes.names
        lookup = np.zeros(max(own, default=0) + 1, dtype=scene.truth.grid.dtype)
        for class_id, name in own.items():
            lookup[class_id] = ids[name]
        scene.truth.grid = lookup[scene.truth.grid]
        scene.truth.classes = ClassTable.from_ids(
            [ids[n] for n in own.values()], {ids[n]: n for n in own.values()},
            {ids[n]: scene.truth.classes.color(c) for c, n in own.items() if scene.truth.classes.color(c)})


def canvas(scenes, window):
    """(mosaic, blocks callable, label grid, classes) of the scenes laid on one canvas."""
    mosaic = Mosaic.of([(s.info.height, s.info.width) for s in scenes], window)
    blocks = mosaic.blocks([lambda dataset=s.dataset: read_blocks(dataset) for s in scenes])
    grid = mosaic.stack([s.truth.grid for s in scenes])
    classes = scenes[0].truth.classes
    for scene in scenes[1:]:
        classes = classes.merged(scene.truth.classes)
    if len(np.unique(grid[grid != 0])) < 2:
        raise GroundTruthError(f"{GROUND_TRUTH}: the rasters hold fewer than two labelled classes: a classifier "
                               f"needs at least two")
    return mosaic, blocks, grid, classes
