"""How a class map looks: the ``.qml`` default style QGIS opens it with, and a PNG preview in its
colours for the report."""
import math
import os
from xml.sax.saxutils import quoteattr

import numpy as np

from ..core.files import written_atomically
from ..reporting.png import class_map_png
from .reading import RasterError, band_classes, open_raster


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
