"""The pieces every report page is made of: labels of the record's keys, number formats, escaping,
key-value tables and the page's style sheet."""
import html
import math

from ..core.settings import MIN_TILING_GAIN

#: Labels of known settings; other keys are shown as they are.
SETTING_LABELS = {
    "window": "Window size (pixels)",
    "epochs": "Epochs",
    "batch_size": "Batch size",
    "learning_rate": "Learning rate",
    "dropout": "Dropout",
    "padding": "Padding at the raster edge",
    "seed": "Random seed",
    "keep_best": "Keep the epoch with the best validation accuracy",
    "patience": "Stop after this many epochs without a better validation accuracy (0: never)",
    "validation_every": "Validation pixels scored every (epochs)",
    "recipe_name": "Training recipe",
    "component_scale": "PCA scores scaled by (each: own deviation; first: the first component's)",
    "standardise_bands": "Bands standardised over the scene before the PCA (its correlation matrix)",
    "validation_into_training": "Held-out split: validation pixels clear of test ground trained on",
    "spectral_noise": "Spectral noise added to training patches (score units)",
    "baseline": "SVM baseline computed",
    "cotraining": "Co-training with the SVM baseline (auto: on the held-out splits)",
    "fusion": "Map fused with the random forest and SVM baselines (auto: on the held-out splits)",
    "smoothing": "Map smoothed where the training labels come in areas (auto: on the held-out splits)",
    "balance": "Map's classes weighted against their training shares (auto: on the held-out splits)",
    "baseline_seconds": "SVM baseline (s)",
    "forest_seconds": "Random forest baseline (s)",
    "first_train_seconds": "Co-training: first training (s)",
    "pool_seconds": "Co-training: the network classifying the pool (s)",
    "split": "Split of the labelled pixels",
    "split_value": "Split value",
    "components": "PCA components",
    "excluded_bands": "Excluded bands (1-based)",
    "kept_bands": "Kept bands (1-based)",
    "explained_variance_ratio": "Variance explained by the components",
    "parameters": "Network parameters",
    "precision": "Arithmetic asked for (auto: bfloat16 where the hardware has it)",
    "layout": f"Training batches asked for (auto: tiles where they save {MIN_TILING_GAIN} times the multiply-adds)",
    "schedule": "Learning-rate schedule (cosine: up to the learning rate over the first epoch, down to 1% at the last)",
    "initializer": "First weights of the ReLU layers drawn by (he_normal: He's; glorot_uniform: Keras's default)",
    "training_layout": "Training batches computed on (tiles share their convolutions)",
    "tiling_gain": "Multiply-adds of patches over those of tiles",
    "training_dtype": "Arithmetic of training (the saved weights are float32)",
    "train_seconds": "Training (s; with co-training, the last round's)",
    "pca_seconds": "PCA fit (s)",
    "reduce_seconds": "Reduction of the scene (s)",
    "test_seconds": "Test-set prediction (s)",
    "train_patches_per_second": "Training speed (patches/s)",
}


def table_section(heading, values, raw_keys=False):
    if not values:
        return ""
    rows = "".join(f"<tr><th>{escape(key if raw_keys else setting_label(key))}</th><td>{escape(format_value(value))}</td></tr>"
                   for key, value in values.items())
    return f"<section><h2>{escape(heading)}</h2><table class=\"settings\">{rows}</table></section>"


def setting_label(key):
    return SETTING_LABELS.get(key) or str(key).replace("_", " ").capitalize()


def format_value(value):
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) and abs(value) >= 10000:
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e5 else f"{value:,.0f}"
    if isinstance(value, (list, tuple)):
        return ", ".join(format_value(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {format_value(v)}" for k, v in value.items())
    return "" if value is None else str(value)


def percent(value):
    return "&ndash;" if value is None or not math.isfinite(value) else f"{100 * value:.2f}%"


def number(value, digits):
    return "&ndash;" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def escape(value):
    return html.escape(str(value), quote=True)


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1100px;
 padding:0 16px;color:#1f2328;line-height:1.45}
h1{font-size:1.6em;margin-bottom:0} h2{font-size:1.2em;border-bottom:1px solid #d0d7de;padding-bottom:4px}
.muted{color:#656d76;font-size:.9em} section{margin:22px 0}
.cards{display:flex;gap:16px;flex-wrap:wrap} .card{border:1px solid #d0d7de;border-radius:8px;padding:10px 18px}
.card .value{font-size:1.7em;font-weight:600}
table{border-collapse:collapse;font-size:.92em} th,td{border:1px solid #d0d7de;padding:3px 8px;text-align:left}
thead th{background:#f6f8fa} td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td.total{background:#f6f8fa} .scroll{overflow-x:auto}
table.settings th{font-weight:500;background:#f6f8fa;width:40%}
.swatch{display:inline-block;width:.9em;height:.9em;border:1px solid #888;margin-right:6px;vertical-align:-1px}
img.map{image-rendering:pixelated;image-rendering:crisp-edges;border:1px solid #d0d7de;max-width:100%;height:auto}
.charts{display:flex;gap:20px;flex-wrap:wrap}
svg text{font-size:11px;fill:#1f2328} svg .title{font-size:13px;font-weight:600}
svg .grid{stroke:#eaeef2} svg .frame{fill:none;stroke:#8c959f} svg .best{stroke:#8250df;stroke-dasharray:4 3}
"""
