"""PNG pictures of class labels, written with numpy and zlib alone.

Reports embed a preview of the map and the benchmarks save class maps and confusion matrices as
PNG; neither should need Qt or GDAL's drivers for that, so the encoder is the format's minimum:
RGBA, 8 bits, no filtering.
"""
import math
import struct
import zlib

import numpy as np

from ..core.classes import rgb_color

_UNKNOWN_COLOR = (128, 128, 128)


def png_bytes(rgba):
    """A minimal PNG encoder for an (H, W, 4) uint8 RGBA array (zlib, filter type 0)."""
    rgba = np.ascontiguousarray(rgba, dtype=np.uint8)
    height, width = rgba.shape[:2]
    scanlines = np.concatenate([np.zeros((height, 1), np.uint8), rgba.reshape(height, width * 4)], axis=1)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(scanlines.tobytes(), 9))
            + chunk(b"IEND", b""))


def png_size(png):
    """(width, height) of PNG bytes, read from the header."""
    return struct.unpack(">II", png[16:24])


def class_map_png(labels, class_colors, nodata=0, max_side=None):
    """PNG bytes of a class-label array: each class in its colour ({id: '#rrggbb'}), ``nodata``
    transparent, other ids grey. With ``max_side`` the array is thinned by a whole step first.
    """
    labels = np.asarray(labels)
    if max_side and max(labels.shape) > max_side:
        step = math.ceil(max(labels.shape) / max_side)
        labels = labels[::step, ::step]
    values, inverse = np.unique(labels, return_inverse=True)
    lut = np.empty((len(values), 4), dtype=np.uint8)
    for i, value in enumerate(values):
        color = class_colors.get(int(value))
        if nodata is not None and value == nodata:
            lut[i] = (0, 0, 0, 0)
        else:
            lut[i] = (*(rgb_color(color) if color else _UNKNOWN_COLOR), 255)
    return png_bytes(lut[inverse.reshape(labels.shape)])
