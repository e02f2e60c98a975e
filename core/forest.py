"""The random forest a model file carries for fusion, as plain arrays that can run no code.

Why a forest in the model: on new ground the patch network and a pixel classifier err on different
pixels, and the geometric mean of the network's and the forest's class probabilities
(``fused_probabilities``) beat each alone on held-out ground (bench_new_ground: Potsdam's test tiles
73.0% OA against 68.6 / 71.8, Indian Pines' disjoint split 57.9 against 56.7 / 52.4, Salinas-A 98.4
against 98.3 / 93.5). The map must be the one the figures describe, so ``fast3dcnn:classify`` needs the
forest too, and a model file may come from anyone: it cannot hold a pickled scikit-learn object.

So the trees travel as node arrays (children, split band, threshold, class shares per node), checked
on loading so that every walk from a root ends at a leaf inside its tree, and are rebuilt as
scikit-learn's compiled ``Tree`` (from its documented state: node records and values) to predict: a
walk in numpy was about 20 times slower than the compiled one for a scene's pixels.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

#: What the model file and the report call the fusion (with the SVM, core.pixel_svm; a model of format 3
#: to 5 holds the forest alone).
FUSION_METHOD = "geometric mean of the network's, the random forest's and the SVM's class probabilities"
FOREST_FUSION_METHOD = "geometric mean of the network's and the random forest's class probabilities"
#: Added to each model's class probabilities before the geometric mean, so that a class one model
#: gives 0 (no tree voted for it) is held back, not ruled out. The fused maps' figures hardly depend
#: on it: 1e-4 to 1e-2 moved the mean OA of bench_new_ground's cases by at most 0.17 points.
FLOOR = 1e-3
#: The arrays of a forest in a model file (prefixed "forest_").
ARRAYS = ("node_counts", "depths", "children", "features", "thresholds", "values")
#: A leaf's children, as scikit-learn marks them.
LEAF = -1


def fused_model_name(fusion: Mapping[str, Any] | None) -> str:
    """What the report and the log call the model whose map a record's or header's ``fusion`` describes."""
    if not fusion:
        return "3D CNN"
    return "3D CNN fused with the forest and the SVM" if "support_vectors" in fusion else "3D CNN fused with the forest"


def fused_probabilities(*probabilities: np.ndarray) -> np.ndarray:
    """Class probabilities (pixels, classes), float32, of the fused model: the geometric mean of the
    models' ``probabilities`` (each floored by FLOOR), normalised to sum to 1.

    Why geometric: a class wins where every model finds it likely, and one model's confident guess
    does not outvote the other's doubt as it does in the arithmetic mean (the network's softmax is far
    more confident than the forest's votes). On the held-out ground of bench_new_ground (the same
    default networks and forests) it beat the arithmetic mean in OA on every case: Indian Pines'
    disjoint split 57.40 against 56.90% (seeds 0-5), its fields 54.68 against 54.46, Salinas-A 98.50
    against 98.36, Potsdam's test tiles 74.04 against 73.89; in AA on three (Potsdam 52.97 against
    53.42)."""
    logs = sum(np.log(np.asarray(p, dtype=np.float32) + np.float32(FLOOR)) for p in probabilities)
    mean = np.exp((logs - logs.max(axis=-1, keepdims=True)) / np.float32(len(probabilities)))
    return (mean / mean.sum(axis=-1, keepdims=True)).astype(np.float32)


class ForestProblem(ValueError):
    """An array of a stored forest that cannot be right: its name and what is wrong."""


@dataclass
class PixelForest:
    """Trees over raw spectra (the model's kept bands), their nodes concatenated tree after tree.

    ``children`` (nodes, 2) are each node's left and right child within its tree (LEAF for both at a
    leaf; a pixel goes left when its ``features`` band is at most ``thresholds``), ``values``
    (nodes, classes) the class shares of the training pixels at the node, in the model's class order.
    """
    node_counts: np.ndarray
    depths: np.ndarray
    children: np.ndarray
    features: np.ndarray
    thresholds: np.ndarray
    values: np.ndarray
    _trees: list = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def from_fitted(cls, forest: Any, class_ids: ArrayLike) -> "PixelForest":
        """The arrays of a fitted scikit-learn RandomForestClassifier whose classes are among
        ``class_ids`` (the model's class order; a class the forest never saw gets share 0)."""
        class_ids = np.asarray(class_ids)
        columns = np.searchsorted(class_ids, forest.classes_)
        trees = [estimator.tree_ for estimator in forest.estimators_]
        values = []
        for tree in trees:
            shares = np.zeros((tree.node_count, len(class_ids)), dtype=np.float32)
            counts = tree.value[:, 0, :]
            shares[:, columns] = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1e-12)
            shares[tree.children_left != LEAF] = 0  # only leaves are read: zeros keep the file small
            values.append(shares)
        return cls(node_counts=np.array([tree.node_count for tree in trees], dtype=np.int64),
                   depths=np.array([tree.max_depth for tree in trees], dtype=np.int64),
                   children=np.concatenate([np.stack([t.children_left, t.children_right], axis=1) for t in trees])
                   .astype(np.int64),
                   features=np.concatenate([t.feature for t in trees]).astype(np.int64),
                   thresholds=np.concatenate([t.threshold for t in trees]).astype(np.float64),
                   values=np.concatenate(values))

    @property
    def n_trees(self) -> int:
        return len(self.node_counts)

    @property
    def starts(self) -> np.ndarray:
        """Index of each tree's first node."""
        return np.cumsum(self.node_counts) - self.node_counts

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in ARRAYS}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], n_features: int, n_classes: int) -> "PixelForest":
        """The forest of stored ``arrays``, checked for spectra of ``n_features`` bands and ``n_classes``
        classes; raises ForestProblem for arrays that do not make such trees."""
        node_counts, depths, children, features, thresholds, values = (np.asarray(arrays[name]) for name in ARRAYS)
        forest = cls(node_counts, depths, children, features, thresholds, values)
        forest.check(n_features, n_classes)
        return forest

    def check(self, n_features: int, n_classes: int) -> None:
        """Raises ForestProblem unless every tree's nodes lead from its root to leaves inside it
        (a child comes after its parent, as scikit-learn numbers them, so no walk loops), split on one
        of ``n_features`` bands, and hold finite class shares for ``n_classes`` classes."""
        counts, nodes = self.node_counts, len(self.features)
        if counts.ndim != 1 or not len(counts) or counts.min() < 1 or counts.sum() != nodes or \
                self.depths.shape != counts.shape:
            raise ForestProblem(f"forest_node_counts {counts.tolist()[:5]}... must count every node, 1 or more "
                                f"per tree, with one depth per tree")
        if self.children.shape != (nodes, 2) or self.thresholds.shape != (nodes,) or \
                self.values.shape != (nodes, n_classes):
            raise ForestProblem(f"forest arrays must hold {nodes} nodes of {n_classes} classes")
        local = np.arange(nodes) - np.repeat(self.starts, counts)
        size = np.repeat(counts, counts)
        leaf = self.children[:, 0] == LEAF
        inner = ~leaf
        if (self.children[leaf, 1] != LEAF).any() or \
                ((self.children[inner] <= local[inner, None]) | (self.children[inner] >= size[inner, None])).any():
            raise ForestProblem("forest_children must point from each node to later nodes of its own tree")
        if ((self.features[inner] < 0) | (self.features[inner] >= n_features)).any():
            raise ForestProblem(f"forest_features must be bands from 0 to {n_features - 1}")
        if not np.isfinite(self.values).all() or (self.values < 0).any():
            raise ForestProblem("forest_values must be class shares (finite, 0 or more)")

    def probabilities(self, spectra: np.ndarray) -> np.ndarray:
        """(pixels, classes) float32: the mean over the trees of the class shares at the leaf each
        pixel of ``spectra`` (pixels, bands) reaches; the trees run side by side, one per core."""
        spectra = np.ascontiguousarray(spectra, dtype=np.float32)
        if spectra.ndim != 2 or spectra.shape[1] <= self.features.max():
            raise ValueError(f"the forest splits on {self.features.max() + 1} bands; spectra of shape "
                             f"{spectra.shape} do not hold them")
        total = np.zeros((len(spectra), self.values.shape[1]), dtype=np.float32)
        if not len(spectra):
            return total
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as workers:
            # The walk (``apply``) is scikit-learn's; the shares are gathered here in float32, which
            # took a quarter off scikit-learn's float64 ``predict``.
            for start, leaves in zip(self.starts, workers.map(lambda tree: tree.apply(spectra),
                                                         self._compiled(spectra.shape[1]))):
                total += self.values[start + leaves]
        return total / self.n_trees

    def _compiled(self, n_features: int) -> list:
        """scikit-learn's Tree for each tree (built once): node records of its own NODE_DTYPE, filled
        by field name, so any of the releases the plugin supports takes them. The list is built whole
        and then kept, so threads of a Dask worker that build it at once each get a whole one."""
        if self._trees:
            return self._trees
        from sklearn.tree._tree import NODE_DTYPE, Tree

        n_classes = self.values.shape[1]
        trees = []
        for start, count, depth in zip(self.starts, self.node_counts, self.depths):
            part = slice(start, start + count)
            nodes = np.zeros(count, dtype=NODE_DTYPE)
            nodes["left_child"], nodes["right_child"] = self.children[part, 0], self.children[part, 1]
            nodes["feature"] = np.where(self.children[part, 0] == LEAF, -2, self.features[part])
            nodes["threshold"] = np.where(self.children[part, 0] == LEAF, -2.0, self.thresholds[part])
            tree = Tree(n_features, np.array([n_classes], dtype=np.intp), 1)
            tree.__setstate__({"max_depth": int(depth), "node_count": int(count), "nodes": nodes,
                               "values": np.ascontiguousarray(self.values[part, None, :], dtype=np.float64)})
            trees.append(tree)
        self._trees = trees
        return trees
