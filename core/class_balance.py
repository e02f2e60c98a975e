"""The map's classes weighed against how often each was trained on: each pixel's class probabilities
multiplied by the training share of its class to the power -EXPONENT, then normalised.

Why: the network and the forest learn the training pixels' class shares as a prior, so a small class
must be far likelier than a large one to win a pixel, and on new ground the classes labelled little are
mapped too seldom: the figures an analyst reads per class, and the average accuracy, suffer most.
Dividing by the whole prior (EXPONENT 1) would decide by the likelihood alone; but both models are
surer of the classes they saw most, and the small classes then took whole fields (Indian Pines'
disjoint split fell to 45% OA). Half the way (the square root) is the middle. A class the split could
not test keeps weight 1: its few training pixels say least of its look, no test pixel could show that
weighting it helps, and weighted up such classes (Indian Pines' Alfalfa, Oats, mowed pasture, 10-56
training pixels, weights 5-12) took others' pixels: 59.7 / 60.5 against 60.4 / 61.7 below.

The default model's maps (fused and smoothed, the same networks and forests), 2-core AMD EPYC, OA /
AA in %, without -> with (tests/benchmarks/results/issue29/class_weights_replay.jsonl): Indian Pines'
disjoint split (seeds 0-5) 60.2 / 57.5 -> 60.4 / 61.7 (SVM 58.5 / 59.4), its whole fields (seeds 0-2)
58.6 / 51.0 -> 59.4 / 58.5 (SVM 52.1 / 53.3), Potsdam's test tiles 73.8 / 52.8 -> 73.6 / 54.0 (forest
71.8 / 53.1), Salinas-A's disjoint split 98.7 / 98.3 -> 99.5 / 99.5; exponents 0.25 / 0.75 gave Indian
Pines' disjoint split 60.4 / 59.4 and 58.3 / 64.5. The exception is the Berlin tutorial scene (its six
urban classes on 30 m mixed pixels, where the models are barely sure of any class): 40.2 / 35.6 ->
35.8 / 41.4 (seeds 0-2; 37.7 / 34.9 at 0.25), its test pixels coming, like its training pixels, mostly
from pavement and roofs, which the weights hand to vegetation.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

#: What the model file and the report call the weighing.
BALANCE_METHOD = "class probabilities times the training share of each tested class to the power -0.5"
#: How far from the training shares toward equal classes the map's decision moves (0: not at all,
#: 1: all the way).
EXPONENT = 0.5


def class_weights(train_counts: ArrayLike, untested: ArrayLike | None = None, exponent: float = EXPONENT) -> np.ndarray:
    """The weight of each class (float64) from its training pixels' count: the most trained class 1, the
    classes the split could not test (``untested``, a mask over the classes) 1 too."""
    counts = np.asarray(train_counts, dtype=np.float64)
    if counts.ndim != 1 or len(counts) < 2 or not (counts > 0).all():
        raise ValueError(f"class weights need two or more classes, each with training pixels: counts {counts}")
    held = np.zeros(len(counts), dtype=bool) if untested is None else np.asarray(untested, dtype=bool)
    if held.all():
        raise ValueError("class weights need a tested class")
    weights = (counts / counts.sum()) ** -exponent
    return np.where(held, 1.0, weights / weights[~held].min())


def balanced(probabilities: np.ndarray, weights: ArrayLike) -> np.ndarray:
    """``probabilities`` (..., classes) times the class ``weights``, normalised to sum to 1, float32."""
    weighted = np.asarray(probabilities, dtype=np.float32) * np.asarray(weights, dtype=np.float32)
    return weighted / weighted.sum(axis=-1, keepdims=True)
