"""What "Train 3D CNN classifier" and each of its parameters mean, in an analyst's words.

The dialog's help, its tooltips and ``qgis_process help`` take their text from here, and so can
the user guide: this module imports no QGIS, so a script prints the same sentences the dialog
shows. Where a parameter left empty follows the training recipe, its help says what each recipe
uses, read from core.settings.
"""
from typing import NamedTuple

from ..core import settings as limits
from ..core.baseline import FOREST_TREES
from ..core.settings import RECIPES


class ParameterText(NamedTuple):
    label: str
    help: str


def _recipes_use(field, number=True):
    """The sentence saying what each training recipe uses for ``field``, for a parameter left empty."""
    values = ", ".join(f"{name} {recipe[field]:g}" if number else f"{name} {recipe[field]}"
                       for name, recipe in RECIPES.items())
    return f" Empty: the recipe's ({values})."


DESCRIPTION = (
    "Trains the Fast 3D CNN of M. Ahmad (2020) on a hyperspectral raster and ground truth, and saves the "
    "model for 'Classify raster with a trained model'.\n"
    "Steps: the bands are reduced by an incremental PCA fitted on the whole scene; the labelled pixels are "
    "split into training, validation and test sets; the network learns from the window of pixels around "
    "each training pixel; the test pixels, never used in training, give the overall accuracy (OA), average "
    "accuracy (AA) and kappa of the report. By default (split auto) the test pixels are ground the training "
    "never saw: whole fields of polygon or line ground truth, contiguous areas of a label raster or points, "
    "which gives the accuracy to expect where the map has no labels. With the random splits (paper, "
    "fraction, count) test pixels lie next to training pixels, which flatters the figures.\n"
    "Pixels that are nodata in any used band are left out; bands that hold only nodata are found and "
    "excluded automatically. Training time grows with the number of labelled pixels, the window size and "
    "the epochs; TensorFlow uses all CPU cores.")

INPUTS = {
    "INPUT": ParameterText("Hyperspectral raster", (
        "The image to learn from: one band per wavelength, any format GDAL reads. Its nodata value marks "
        "pixels to ignore.")),
    "GROUND_TRUTH": ParameterText("Ground truth", (
        "Reference classes: a label raster (class ids, 0 = unlabelled; on the raster's grid, or georeferenced so "
        "it can be aligned) or a polygon, line or point layer with a class field. Polygons label the pixels whose "
        "centre they contain, lines the pixels they cross, points the pixel they fall in; where features overlap "
        "the smaller one wins (polygons, then lines, then points). Vector layers in another CRS are reprojected.")),
    "MORE_INPUTS": ParameterText("Further rasters of the same sensor", (
        "More rasters to learn from (other flight lines, dates or tiles), with the same bands as the first and "
        "the same nodata value. The PCA is fitted over all of them, each class is split over all of them, "
        "and the report lists them. Their labels come from the vector ground truth, or from the label rasters "
        "of 'Label rasters of the further rasters'. A raster with no label (the vector ground truth misses it, "
        "or its label raster is empty) is unlabelled ground: the PCA sees it and co-training learns from its "
        "pixels, so add the rasters the model will map. On Potsdam's EnMAP tiles, the 2 tiles to map added so "
        "lifted the default map there from 73.0% to 74.4% OA (3 seeds).")),
    "MORE_GROUND_TRUTH": ParameterText("Label rasters of the further rasters", (
        "When the ground truth is a label raster: one label raster for each further raster, in the same order. "
        "Leave empty when the ground truth is a vector layer covering all rasters.")),
    "CLASS_FIELD": ParameterText("Class field (vector ground truth)", (
        "The field of the vector ground truth that holds the class: integer ids (1 or more) or text names "
        "(numbered 1, 2, ... in alphabetical order; the names are kept). Features with an empty value are "
        "skipped. Not used for a label raster.")),
    "LABELLED_POINTS": ParameterText("Labelled suggested points", (
        "The point layer of 'Suggest where to label next' once you have typed each point's class (its id or "
        "its name, as in the ground truth) in its class field (named as CLASS_FIELD, or 'class' for a label "
        "raster ground truth). The points are added to the ground truth for this run, on whichever training "
        "raster they fall; points left empty are skipped and counted in the log. A class the ground truth "
        "does not have is refused.")),
    "BANDS": ParameterText("Bands to exclude", (
        "1-based bands and ranges to leave out, e.g. noisy water-absorption bands: 108-112,154-167,224 for the "
        "224-band AVIRIS scenes. Empty keeps every band.")),
}

TRAINING = {
    "WINDOW_SIZE": ParameterText("Window size (pixels)", (
        "Side S of the S x S window around each pixel that the network sees; odd. Larger windows use more "
        "spatial context but blur class edges and train slower. The paper uses {}; the network needs at "
        "least {}.").format(limits.WINDOW.default, limits.WINDOW.minimum)),
    "COMPONENTS": ParameterText("PCA components", (
        "Number of principal components the bands are reduced to before the network. The paper uses {}; at "
        "least {} are needed.").format(limits.COMPONENTS.default, limits.COMPONENTS.minimum)),
    "EPOCHS": ParameterText("Epochs", (
        "The most passes over the training pixels (training may stop earlier, see below); the cosine "
        "learning-rate schedule of the robust recipe ends at the last. Fewer train faster and usually lose a "
        "little accuracy." + _recipes_use("epochs"))),
    "BATCH_SIZE": ParameterText("Batch size", (
        "Training patches per update step (the paper: 256). Smaller batches need less memory.")),
    "LEARNING_RATE": ParameterText("Learning rate", (
        "Step size of the Adam optimiser: the paper's is constant; the robust recipe's rises to this value over "
        "the first epoch and falls along a cosine to 1% of it at the last." + _recipes_use("learning_rate"))),
    "DROPOUT": ParameterText("Dropout", (
        "Share of the dense layers' units switched off at random during training, against over-fitting (the "
        "paper's code: 0.4).")),
    "RECIPE": ParameterText("Training recipe", (
        "robust (default): the PCA is fitted on bands standardised over the scene (its correlation matrix) and "
        "its scores are scaled by the first component's deviation, the training patches get a little spectral "
        "noise and, on the disjoint split, the validation pixels no test window reaches are trained on too and "
        "the network is trained again with the pixels where it and the SVM baseline agree (co-training); it "
        "holds up far better on ground away from the training pixels (Salinas-A disjoint 98% against 82%) and "
        "keeps the paper's accuracy on random splits; it also trains faster (He's first weights, a cosine "
        "learning-rate schedule, 40 epochs at most, stopping early when validation, scored every second epoch, "
        "stops improving). paper: the paper's recipe exactly (covariance PCA, each component scaled to unit "
        "variance, no noise, Adam at a constant 0.001, 50 epochs).")),
    "SPLIT": ParameterText("Split of the labelled pixels", (
        "paper: per class 30% test, the rest halved into training and validation (the paper's text). fraction: "
        "a share of each class for training, the rest halved into validation and test. count: a number of "
        "pixels per class for training, the rest halved. disjoint: per class a contiguous area held out for "
        "test, with training pixels whose window would reach a test pixel dropped, for honest figures. grouped: "
        "as disjoint, but whole fields are held out (patches of one class in polygon or line ground truth). "
        "auto (the default): grouped for polygon or line ground truth, disjoint for label rasters and points. "
        "A class too small to hold pixels out is trained on and reported as not tested.")),
    "SPLIT_VALUE": ParameterText("Split value", (
        "For fraction: the training share of each class (0 to 1, e.g. 0.1). For count: training pixels per "
        "class (e.g. 50). For disjoint, grouped and auto: the test share of each class (default {}). Not "
        "used by paper.").format(limits.DISJOINT_TEST_FRACTION)),
    "SEED": ParameterText("Random seed", (
        "Seed of the split, the weight initialisation and the batch order: the same data, settings and seed "
        "give the same model on the same machine.")),
    "KEEP_BEST": ParameterText("Keep the best epoch", (
        "Keep the network of the epoch with the highest validation accuracy instead of the last (always done "
        "when training stops early).")),
    "PATIENCE": ParameterText("Stop after epochs without improvement", (
        "Training stops once this many epochs pass without a better validation accuracy, and keeps the best "
        "epoch's network; Epochs is then the most that are run, and the report says where and why training "
        "stopped. 0: train every epoch." + _recipes_use("patience"))),
    "PRECISION": ParameterText("Arithmetic", (
        "auto: mixed bfloat16 where the processor computes it natively (CPUs with AMX or AVX-512 BF16, NVIDIA "
        "GPUs from Ampere on), else float32. float32: always float32. The model's weights are float32 either "
        "way." + _recipes_use("precision", number=False))),
    "COTRAINING": ParameterText("Co-training with the SVM baseline", (
        "on: after training, the network and the SVM baseline classify up to 50,000 pixels of the scene outside "
        "training; where they agree and the network is at least 90% sure, the pixels become training labels "
        "(per class at most as many as the class's training pixels) and the network is trained once more, from "
        "new weights, on them and the training pixels, for a quarter of the epochs (at least 5). It adapts the "
        "network to the ground the map covers. The whole run takes about 1.3 times as long. auto: on with the "
        "held-out splits (auto, disjoint, grouped). off: "
        "never. It needs the SVM baseline." + _recipes_use("cotraining", number=False))),
    "FUSION": ParameterText("Fuse the map with the random forest and the SVM", (
        "on: the model file keeps the random forest and SVM baselines (the SVM with class probabilities: "
        "Platt's sigmoids fitted on 5 folds), and each pixel's class (in the report's figures and in every map "
        "Classify makes with the model) is the one with the highest geometric mean of the network's, the "
        "forest's and the SVM's class probabilities: a class all find likely. On held-out ground they err on "
        "different pixels: with the classes weighted (BALANCE), adding the SVM lifted the held-out figures "
        "(Indian Pines' disjoint split 62.1% OA against 60.4% fused with the forest alone, Potsdam's test tiles "
        "74.1% against 73.6%). Classifying then also runs the forest's 100 trees and the SVM on every pixel's "
        "spectrum: on 2 cores (float32) a map of Indian Pines' default model took 1.37 times as long as the "
        "network's alone (1.11 times with the forest alone). auto: on with the held-out splits (auto, disjoint, grouped). off: the network alone. It "
        "needs the baselines." + _recipes_use("fusion", number=False))),
    "SMOOTHING": ParameterText("Smooth the map where the classes come in areas", (
        "on: each pixel's class probabilities (in the report's figures and in every map Classify makes with the "
        "model) become the geometric mean of those of the pixels within a radius of it, so that scattered "
        "errors inside a field give way to the field's class. The radius is read from the ground truth, not "
        "from test figures: the largest, up to 5 pixels, within which a training pixel's labelled neighbours "
        "share its class at least 90% of the time, averaged over the classes (so small fields count as much as "
        "large ones). Fields labelled as areas are smoothed; classes that change from pixel to pixel (dense "
        "urban land-cover maps) and points are not (radius 0), and the log says why. Smoothing erases objects "
        "narrower than its window. auto: on with the held-out splits (auto, disjoint, grouped); on a random split a test "
        "pixel's neighbours are training pixels, and smoothing would flatter the figures. off: never."
        + _recipes_use("smoothing", number=False))),
    "BALANCE": ParameterText("Weigh the classes against their training shares", (
        "on: each pixel's class probabilities (in the report's figures and in every map Classify makes with the "
        "model) are multiplied by the square root of one over the class's share of the training pixels (a class "
        "too small to test keeps its own), so a class you labelled little is not mapped too seldom just because "
        "it was trained on less. On held-out ground this raised the average accuracy (Indian Pines' whole fields "
        "51.0% to 58.5%, Potsdam's test tiles 52.8% to 54.0%) and kept the overall accuracy level, except on "
        "urban mixed pixels (Berlin: 40.2% to 35.8%). auto: on with the held-out splits (auto, "
        "disjoint, grouped); a random split tests pixels in the training shares, which the map already suits. "
        "off: the probabilities as the models give them." + _recipes_use("balance", number=False))),
    "BASELINE": ParameterText("Compare with an SVM and a random forest", (
        "Also train a support vector machine (RBF kernel, on the standardised spectra, tuned on the validation "
        f"pixels) and a random forest ({FOREST_TREES} trees) on the same training pixels, and score them on the "
        "same test pixels: the report shows them beside the network and says which is better. They see no "
        "neighbourhood, so where they win the network's spatial context does not help on this ground. Takes "
        "seconds (at most 3,000 training pixels are used, a stratified sample above that); switch it off for "
        "very large training sets.")),
}

OUTPUTS = {
    "OUTPUT_MODEL": ParameterText("Model file", (
        "The trained model (.f3dcnn): band selection, PCA, network, the random forest and SVM where the map is "
        "fused with them (FUSION), the radius its map is smoothed over (SMOOTHING), the classes' weights (BALANCE), classes with names and colours, settings "
        "and accuracy. Classify rasters with it.")),
    "OUTPUT_REPORT": ParameterText("Accuracy report", (
        "Self-contained HTML page: OA, AA, kappa, per-class table, confusion matrix, training curves, settings "
        "and timings; the same figures as JSON beside it.")),
    "OUTPUT": ParameterText("Class map", (
        "Classify the whole raster right after training and write the class map (GeoTIFF with colours, names "
        "and a .qml style beside it).")),
    "OUTPUT_JSON": ParameterText("Accuracy figures (JSON)", "The JSON file beside the report."),
    **{key: ParameterText(label, f"{label} on the test pixels (1 = perfect), for use in models.")
       for key, label in (("OVERALL_ACCURACY", "Overall accuracy"), ("AVERAGE_ACCURACY", "Average accuracy"),
                          ("KAPPA", "Kappa"))},
}

#: Every parameter and output of the algorithm, by key.
PARAMETERS = {**INPUTS, **TRAINING, **OUTPUTS}
