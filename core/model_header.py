"""What a model file's header and arrays must look like, checked before anything is built or allocated.

A model file comes from anyone: its JSON header says how large a network to build, and a header
saying ``"window": 100001`` would make Keras try to allocate terabytes. So every field is checked
against the same limits training uses (``settings``), and every array's shape is read from its
``.npy`` header inside the archive (without loading it) and compared with the shape the builder
will create. A failure names the file, the field and what it holds.
"""
import re
from collections.abc import Mapping
from typing import Any, cast

import numpy as np

from .forest import ARRAYS as FOREST_NAMES
from .pixel_svm import ARRAYS as SVM_NAMES
from .pixel_svm import pairs_of
from .settings import COMPONENTS, CONV_LAYERS, DENSE_UNITS, DROPOUT, PADDINGS, WINDOW
from .smoothing import MAX_RADIUS

#: Bounds for what no real sensor or legend exceeds; they keep a crafted file from asking for
#: absurd allocations.
MAX_BANDS = 10000
MAX_CLASSES = 65535
MAX_NAME = 200
#: A kernel and a bias for each convolution and dense layer, and for the output layer.
N_WEIGHTS = 2 * (len(CONV_LAYERS) + len(DENSE_UNITS) + 1)
REDUCER_ARRAYS = tuple(f"reducer_{name}" for name in (
    "band_indices", "nodata", "pca_mean", "pca_components", "pca_explained_variance",
    "pca_explained_variance_ratio", "score_scale"))
#: The forest a fused model holds (core.forest.ARRAYS), and bounds on its size: 100 trees of Indian
#: Pines' 3,000 training pixels hold about 80,000 nodes.
FOREST_ARRAYS = tuple(f"forest_{name}" for name in FOREST_NAMES)
MAX_TREES = 10000
MAX_FOREST_NODES = 50_000_000
#: The SVM a model fused with one holds (core.pixel_svm.ARRAYS), and a bound on its support vectors:
#: it is fitted on at most 3,000 pixels (core.baseline.MAX_FIT).
SVM_ARRAYS = tuple(f"svm_{name}" for name in SVM_NAMES)
MAX_SUPPORT_VECTORS = 1_000_000
#: The largest class weight (core.class_balance): a class of one training pixel among 10^12.
MAX_WEIGHT = 1e6
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_NPY_HEADERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def weight_shapes(window: int, bands: int, n_classes: int) -> list[tuple[int, ...]]:
    """The shapes of ``build_fast3dcnn(window, bands, n_classes).get_weights()``, in order, without Keras."""
    shapes, depth, channels = [], bands, 1
    for filters, kernel_depth in CONV_LAYERS:
        shapes += [(3, 3, kernel_depth, channels, filters), (filters,)]
        depth, channels = depth - kernel_depth + 1, filters
    width = window - 2 * len(CONV_LAYERS)
    inputs = width * width * depth * channels
    for units in (*DENSE_UNITS, n_classes):
        shapes += [(inputs, units), (units,)]
        inputs = units
    return shapes


class HeaderProblem(ValueError):
    """One field of a model header that cannot be right: its name and what is wrong."""

    def __init__(self, field: str, value: object, problem: str) -> None:
        shown = repr(value)
        super().__init__(f"field '{field}' = {shown[:80] + '...' if len(shown) > 80 else shown}: {problem}")


def _integer(header: Mapping[str, Any], field: str, low: int, high: int) -> int:
    value = header.get(field)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise HeaderProblem(field, value, f"must be a whole number from {low} to {high}")
    return value


def check_header(header: Mapping[str, Any]) -> None:
    """Raises HeaderProblem unless every field the loader uses is of the right type and range."""
    # cast: WINDOW has a maximum (settings), though a Limit's type allows None.
    window = _integer(header, "window", WINDOW.minimum, cast(int, WINDOW.maximum))
    if window % 2 != 1:
        raise HeaderProblem("window", window, "must be odd")
    _integer(header, "input_band_count", 1, MAX_BANDS)
    if header.get("padding") not in PADDINGS:
        raise HeaderProblem("padding", header.get("padding"), f"must be one of {', '.join(PADDINGS)}")
    dropout = header.get("dropout")
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not DROPOUT.admits(dropout):
        raise HeaderProblem("dropout", dropout, f"must be a number from {DROPOUT.minimum} to {DROPOUT.maximum}")
    if header.get("n_weights") != N_WEIGHTS:
        raise HeaderProblem("n_weights", header.get("n_weights"), f"the network has {N_WEIGHTS} weight arrays")
    record = header.get("record")
    if record is not None and not isinstance(record, dict):
        raise HeaderProblem("record", record, "must be an object or null")
    fusion = header.get("fusion")
    if fusion is not None and (not isinstance(fusion, dict) or fusion.get("method") is None):
        raise HeaderProblem("fusion", fusion, "must be an object naming the fusion's method, or null")
    smoothing = header.get("smoothing")
    if smoothing is not None:
        if not isinstance(smoothing, dict) or smoothing.get("method") is None:
            raise HeaderProblem("smoothing", smoothing, "must be an object naming the smoothing's method, or null")
        _integer(smoothing, "radius", 1, MAX_RADIUS)


def check_classes(classes: object) -> None:
    """Raises HeaderProblem unless ``classes`` is a class table's JSON form of 2 to MAX_CLASSES classes."""
    if not isinstance(classes, list) or not 2 <= len(classes) <= MAX_CLASSES:
        raise HeaderProblem("classes", classes, f"must be a list of 2 to {MAX_CLASSES} classes")
    ids = set()
    for item in classes:
        if not isinstance(item, dict):
            raise HeaderProblem("classes", item, "each class must be an object with id, name and color")
        class_id, name, color = item.get("id"), item.get("name"), item.get("color")
        if isinstance(class_id, bool) or not isinstance(class_id, int) or not 1 <= class_id <= 2 ** 31 - 1 \
                or class_id in ids:
            raise HeaderProblem("classes.id", class_id, "class ids must be distinct whole numbers, 1 or more")
        if name is not None and (not isinstance(name, str) or len(name) > MAX_NAME):
            raise HeaderProblem("classes.name", name, f"must be text of at most {MAX_NAME} characters, or null")
        if color is not None and (not isinstance(color, str) or not _COLOR.match(color)):
            raise HeaderProblem("classes.color", color, "must be a colour written #rrggbb, or null")
        ids.add(class_id)


def check_balance(balance: object, n_classes: int) -> None:
    """Raises HeaderProblem unless ``balance`` is null, or names its method and holds one weight from 1 to
    MAX_WEIGHT for each of the ``n_classes`` classes."""
    if balance is None:
        return
    if not isinstance(balance, dict) or balance.get("method") is None:
        raise HeaderProblem("balance", balance, "must be an object naming how the classes are weighted, or null")
    weights = balance.get("weights")
    if not isinstance(weights, list) or len(weights) != n_classes or not all(
            isinstance(w, (int, float)) and not isinstance(w, bool) and 1 <= w <= MAX_WEIGHT for w in weights):
        raise HeaderProblem("weights", weights, f"must be {n_classes} numbers from 1 to {MAX_WEIGHT:g}, one per class")


def check_arrays(header: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]], n_classes: int) -> None:
    """Raises HeaderProblem unless the archive's arrays (``shapes``: {name: shape}) are those the
    header's network and band selection need: the reducer's, then every weight's."""
    bands = header["input_band_count"]
    forest = FOREST_ARRAYS if header.get("fusion") else ()
    svm = SVM_ARRAYS if forest and "support_vectors" in header["fusion"] else ()
    unexpected = sorted(set(shapes) - {"header", *REDUCER_ARRAYS, *(f"weight_{i:03d}" for i in range(N_WEIGHTS)),
                                       *forest, *svm})
    if unexpected:
        raise HeaderProblem("arrays", unexpected, "are not part of a model file")
    if forest:
        _check_forest_shapes(shapes, n_classes)
    kept = shapes.get("reducer_band_indices")
    if svm and kept is not None:
        _check_svm_shapes(shapes, kept, n_classes)
    components = shapes.get("reducer_pca_components")
    if kept is None or len(kept) != 1 or not 1 <= kept[0] <= bands:
        raise HeaderProblem("reducer_band_indices", kept, f"must list 1 to {bands} bands (input_band_count)")
    # cast: COMPONENTS has a maximum (settings), though a Limit's type allows None.
    if components is None or len(components) != 2 or components[1] != kept[0] \
            or not COMPONENTS.minimum <= components[0] <= min(kept[0], cast(int, COMPONENTS.maximum)):
        raise HeaderProblem("reducer_pca_components", components,
                            f"must be (components, {kept[0]}) with {COMPONENTS.minimum} to "
                            f"{min(kept[0], cast(int, COMPONENTS.maximum))} components")
    if shapes.get("reducer_pca_mean") != (kept[0],):
        raise HeaderProblem("reducer_pca_mean", shapes.get("reducer_pca_mean"), f"must hold {kept[0]} values")
    for name in ("reducer_pca_explained_variance", "reducer_pca_explained_variance_ratio", "reducer_score_scale"):
        if shapes.get(name) != (components[0],):
            raise HeaderProblem(name, shapes.get(name), f"must hold {components[0]} values")
    expected = weight_shapes(header["window"], components[0], n_classes)
    for i, shape in enumerate(expected):
        if shapes.get(f"weight_{i:03d}") != shape:
            raise HeaderProblem(f"weight_{i:03d}", shapes.get(f"weight_{i:03d}"),
                                f"must have shape {shape} for this window, {components[0]} components and "
                                f"{n_classes} classes")


def _check_forest_shapes(shapes: Mapping[str, tuple[int, ...]], n_classes: int) -> None:
    """Raises HeaderProblem unless the forest's arrays are there, of MAX_TREES trees and
    MAX_FOREST_NODES nodes at most, shaped for one another and ``n_classes``; what they hold is
    checked when they are read (core.forest.PixelForest.check)."""
    trees = shapes.get("forest_node_counts")
    if trees is None or len(trees) != 1 or not 1 <= trees[0] <= MAX_TREES:
        raise HeaderProblem("forest_node_counts", trees, f"must count the nodes of 1 to {MAX_TREES} trees")
    nodes = shapes.get("forest_features")
    if nodes is None or len(nodes) != 1 or not 1 <= nodes[0] <= MAX_FOREST_NODES:
        raise HeaderProblem("forest_features", nodes, f"must hold 1 to {MAX_FOREST_NODES} nodes")
    expected = {"forest_depths": trees, "forest_children": (nodes[0], 2), "forest_thresholds": nodes,
                "forest_values": (nodes[0], n_classes)}
    for name, shape in expected.items():
        if shapes.get(name) != shape:
            raise HeaderProblem(name, shapes.get(name), f"must have shape {shape}")


def _check_svm_shapes(shapes: Mapping[str, tuple[int, ...]], kept: tuple[int, ...], n_classes: int) -> None:
    """Raises HeaderProblem unless the SVM's arrays are there, of 1 to MAX_SUPPORT_VECTORS support
    vectors over the ``kept`` bands and 2 to ``n_classes`` classes, shaped for one another; what they
    hold is checked when they are read (core.pixel_svm.PixelSVM.check)."""
    vectors, columns = shapes.get("svm_support_vectors"), shapes.get("svm_columns")
    if vectors is None or len(vectors) != 2 or not 1 <= vectors[0] <= MAX_SUPPORT_VECTORS or vectors[1:] != kept:
        raise HeaderProblem("svm_support_vectors", vectors,
                            f"must hold 1 to {MAX_SUPPORT_VECTORS} support vectors of {kept[0]} bands")
    if columns is None or len(columns) != 1 or not 2 <= columns[0] <= n_classes:
        raise HeaderProblem("svm_columns", columns, f"must list 2 to {n_classes} classes")
    pairs = pairs_of(columns[0])
    expected = {"svm_mean": kept, "svm_scale": kept, "svm_coefficients": (vectors[0], pairs),
                "svm_intercepts": (pairs,), "svm_sigmoids": (columns[0], 2), "svm_gamma": ()}
    for name, shape in expected.items():
        if shapes.get(name) != shape:
            raise HeaderProblem(name, shapes.get(name), f"must have shape {shape}")


def array_shapes(archive: np.lib.npyio.NpzFile) -> dict[str, tuple[int, ...]]:
    """{member name: shape} of every array in an open ``np.load`` archive, read from each ``.npy``
    header without loading the data."""
    shapes = {}
    assert archive.zip is not None  # open (numpy's type says None once the archive is closed)
    for name in archive.files:
        with archive.zip.open(name + ".npy") as stream:
            version = np.lib.format.read_magic(stream)
            if version not in _NPY_HEADERS:
                raise HeaderProblem(name, version, "is stored in an unknown .npy format version")
            shape, _, _ = _NPY_HEADERS[version](stream)
        shapes[name] = tuple(shape)
    return shapes
