"""The accuracy report: one self-contained HTML page and the same figures as JSON beside it.

The page is mailed, archived and opened long after the run, away from the model and the map, so it
carries everything inline: the curves as SVG (``charts``), the confusion matrix as a coloured
table, the map preview as an embedded PNG; it loads no script, font or image from anywhere. The
JSON is for programs (and for comparing runs): the record's own JSON form, the same for training
and assessment.

Training and assessment records render with the same function; sections whose figures the record
lacks (curves, settings, split for an assessment) are left out. Only numpy and the standard
library are needed, so scripts and tests can write reports without QGIS.
"""
import base64
import datetime
import html
import json
import math
import os

import numpy as np

from .charts import history_section
from .core.baseline import verdict
from .core.classes import ClassTable
from .core.files import written_atomically
from .core.record import RunRecord
from .core.settings import MIN_TILING_GAIN
from .png import png_size

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
    "validation_into_training": "Disjoint split: validation pixels trained on",
    "spectral_noise": "Spectral noise added to training patches (score units)",
    "baseline": "SVM baseline computed",
    "cotraining": "Co-training with the SVM baseline (auto: on the disjoint split)",
    "baseline_seconds": "SVM baseline (s)",
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


def write_report(record, html_path, map_preview_png=None, title=None):
    """Writes the HTML page of a RunRecord and its JSON beside it (same name, ``.json``); returns both paths.

    Each file is written to a temporary name and renamed, so a reader never sees half a report.
    """
    return _write_page(html_path, record.to_json(), render_html(record, map_preview_png, title))


def _write_page(html_path, data, page):
    """Writes ``page`` to ``html_path`` and ``data`` as JSON beside it (same name, ``.json``), each to a
    temporary name renamed when complete; returns both paths."""
    json_path = os.path.splitext(html_path)[0] + ".json"
    with written_atomically(json_path) as stream:
        stream.write(json.dumps(data, indent=2, allow_nan=False))
    with written_atomically(html_path) as stream:
        stream.write(page)
    return html_path, json_path


def write_model_info(info, html_path):
    """Writes the page of ``fast3dcnn:modelinfo`` for ``core.modelfile.describe_model``'s ``info``
    (the file, the network, the bands and classes, then the training report it carries) and the
    same data as JSON beside it; returns both paths."""
    classes = ClassTable.from_json(info["classes"])
    record = RunRecord.from_json(info["record"]) if info.get("record") else RunRecord({}, classes)
    facts = {"File": info["file"]["path"], "Size (bytes)": info["file"]["bytes"], "SHA-256": info["file"]["sha256"],
             "Model file format": info["format_version"], "Window size (pixels)": info["window"],
             "Input bands": info["input_band_count"], "Kept bands (1-based)": info["kept_bands"],
             "PCA components": info["components"],
             "Variance explained by the components": _percent(info["explained_variance_ratio"]),
             "Network parameters": info["parameters"], "Padding at the raster edge": info["padding"],
             "Dropout": info["dropout"]}
    lead = [_table_section("Model", facts, raw_keys=True), _classes_section(classes),
            _wavelengths_section(record.wavelengths)]
    title = f"Fast 3D CNN model {os.path.basename(info['file']['path'])}"
    return _write_page(html_path, info, render_html(record, title=title, lead=lead))


def _classes_section(classes):
    rows = "".join(f"<tr><td class=\"num\">{c.id}</td><td><span class=\"swatch\" style=\"background:{_e(c.color)}\">"
                   f"</span>{_e(c.label)}</td><td>{_e(c.color)}</td></tr>" for c in classes.completed())
    return (f"<section><h2>Classes</h2><table><thead><tr><th>Id</th><th>Name</th><th>Colour</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></section>")


def _wavelengths_section(wavelengths):
    if not wavelengths:
        return ("<section><h2>Band wavelengths</h2><p>The training raster carried no wavelengths: rasters are "
                "matched to the model by their band count only.</p></section>")
    listed = ", ".join(f"{i}: {_number(w, 1)}" for i, w in enumerate(wavelengths, 1))
    return f"<section><h2>Band wavelengths (nm, by input band)</h2><p>{listed}</p></section>"


def render_html(record, map_preview_png=None, title=None, lead=()):
    """The page; ``lead`` are HTML sections placed before the accuracy figures."""
    title = title or "Fast 3D CNN accuracy report"
    sections = [
        *lead,
        _summary(record),
        _good_practice_section(record.area_estimates),
        _baseline_section(record),
        _cotraining_section(record),
        _map_section(map_preview_png),
        _per_class_section(record.accuracy, record.classes),
        _confusion_section(record.accuracy),
        history_section(record.history, record.best_epoch, record.stop_reason),
        _settings_section(record),
        _table_section("Inputs", record.inputs),
        _table_section("Timings", record.timings),
        _table_section("Software versions", record.versions, raw_keys=True),
        _backend_note(record.versions),
    ]
    generated = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>\n"
            f"<h1>{_e(title)}</h1><p class=\"muted\">Written {_e(generated)}</p>\n"
            + "\n".join(s for s in sections if s) + "\n</body></html>\n")


def _summary(record):
    figures, split = record.accuracy, record.split
    if not figures:
        return ""
    cards = "".join(
        f"<div class=\"card\"><div class=\"value\">{text}</div><div class=\"muted\">{_e(label)}</div></div>"
        for label, text in (("Overall accuracy (OA)", _percent(figures.get("overall_accuracy"))),
                            ("Average accuracy (AA)", _percent(figures.get("average_accuracy"))),
                            ("Cohen's kappa", _number(figures.get("kappa"), 4))))
    notes = []
    if figures.get("n_pixels") is not None:
        scope = "held-out test pixels" if split else "labelled reference pixels"
        notes.append(f"Scored on {figures['n_pixels']:,} {scope}.")
    if split:
        notes.append(f"Split: {_e(split.get('description') or split.get('method'))}.")
    if figures.get("n_unclassified"):
        notes.append(f"{figures['n_unclassified']:,} of them have no class in the map (nodata or a class "
                     f"absent from the reference); they count as errors.")
    if record.n_labelled_invalid_excluded:
        notes.append(f"{record.n_labelled_invalid_excluded:,} labelled pixels were nodata in the raster "
                     f"and were left out.")
    return (f"<section><h2>Accuracy</h2><div class=\"cards\">{cards}</div>"
            f"<p>{' '.join(notes)}</p></section>")


def _good_practice_section(estimates):
    """Accuracy and area weighted by the map's class areas (core.area_estimation), with 95% intervals."""
    if not estimates:
        return ""
    heading = "<h2>Accuracy and area to good practice (Olofsson et al. 2014)</h2>"
    if "not_computed" in estimates:
        return f"<section>{heading}<p>{_e(estimates['not_computed'])}</p></section>"
    unit = estimates["unit"]

    def interval(value, half, shown):
        return "&ndash;" if value is None else f"{shown(value)} ± {shown(half) if half is not None else '&ndash;'}"

    def area(value):
        return f"{value:,.1f}" if unit != "pixels" else f"{value:,.0f}"

    rows = "".join(
        f"<tr><td>{_e(c['name'])}</td><td class=\"num\">{area(c['mapped_area'])}</td>"
        f"<td class=\"num\">{interval(c['area'], c['area_ci95'], area)}</td>"
        f"<td class=\"num\">{interval(c['users_accuracy'], c['users_ci95'], _percent)}</td>"
        f"<td class=\"num\">{interval(c['producers_accuracy'], c['producers_ci95'], _percent)}</td>"
        f"<td class=\"num\">{c['reference_pixels']:,}</td></tr>" for c in estimates["per_class"])
    left_out = estimates.get("n_reference_unclassified")
    note = (f" {left_out:,} reference pixels on unclassified map pixels belong to no stratum and are left out "
            f"here." if left_out else "")
    return (f"<section>{heading}<div class=\"cards\"><div class=\"card\"><div class=\"value\">"
            f"{interval(estimates['overall_accuracy'], estimates['overall_ci95'], _percent)}</div>"
            f"<div class=\"muted\">Overall accuracy, area-weighted (95% interval)</div></div></div>"
            f"<table><thead><tr><th>Class</th><th>Mapped area ({_e(unit)})</th>"
            f"<th>Error-adjusted area ({_e(unit)}, 95%)</th><th>User's accuracy</th><th>Producer's accuracy</th>"
            f"<th>Reference pixels</th></tr></thead><tbody>{rows}</tbody></table>"
            f"<p class=\"muted\">Strata are the map's classes; each class's reference pixels are weighted by its "
            f"share of the map, which gives unbiased accuracies and areas when the reference pixels are a random "
            f"sample within each map class. Intervals are 1.96 standard errors (Olofsson et al. 2014, equations "
            f"1-10). The figures above this section are the plain (unweighted) ones over the reference pixels."
            f"{note}</p></section>")


def _baseline_section(record):
    """The SVM baseline beside the network on the same test pixels, and which did better."""
    baseline = record.baseline
    if not baseline:
        return ""
    cnn, svm = record.accuracy, baseline["accuracy"]
    overall = "".join(
        f"<tr><td>{label}</td><td class=\"num\">{shown(cnn.get(key))}</td><td class=\"num\">{shown(svm.get(key))}</td></tr>"
        for label, key, shown in (("Overall accuracy (OA)", "overall_accuracy", _percent),
                                  ("Average accuracy (AA)", "average_accuracy", _percent),
                                  ("Cohen's kappa", "kappa", lambda value: _number(value, 4))))
    chosen = (f"chosen on {baseline['n_val']:,} validation pixels" if baseline["n_val"] else
              "fixed, as no validation pixels were left to choose them on")
    svm_classes = {row["id"]: row for row in svm.get("per_class", [])}
    per_class = "".join(
        f"<tr><td>{_e(row.get('name', row['id']))}</td>"
        + "".join(f"<td class=\"num\">{_percent(figures.get(key))}</td>"
                  for key in ("recall", "f1") for figures in (row, svm_classes.get(row["id"], {})))
        + "</tr>" for row in cnn.get("per_class", []))
    return (f"<section><h2>Against a plain pixel classifier</h2><p><strong>{_e(verdict(cnn, baseline))}</strong></p>"
            f"<table><thead><tr><th></th><th>3D CNN</th><th>SVM</th></tr></thead><tbody>{overall}</tbody></table>"
            f"<table><thead><tr><th>Class</th><th>Recall, 3D CNN</th><th>Recall, SVM</th><th>F1, 3D CNN</th>"
            f"<th>F1, SVM</th></tr></thead><tbody>{per_class}</tbody></table>"
            f"<p class=\"muted\">{_e(baseline['method'])}: C = {baseline['C']:g} and gamma = {baseline['gamma']:.3g} "
            f"{chosen}, fitted on {baseline['n_train']:,} of the "
            f"{baseline['n_train_available']:,} training pixels (a stratified sample above that), scored on "
            f"{baseline['n_test']:,} test pixels, in {baseline['seconds']:.1f} s. It sees each pixel's spectrum "
            f"only, no neighbourhood: where it beats the network, the network's spatial context does not help "
            f"on this ground.</p></section>")


def _cotraining_section(record):
    """What training the network again on the pixels where it and the SVM agreed changed, round by round."""
    cotraining = record.cotraining
    if not cotraining:
        return ""
    first, rounds = cotraining["first_accuracy"], cotraining["rounds"]
    names = {row["id"]: row.get("name", row["id"]) for row in record.accuracy.get("per_class", [])}
    figures = "".join(
        f"<tr><td>{label}</td><td class=\"num\">{pixels}</td><td class=\"num\">{_percent(row['overall_accuracy'])}"
        f"</td><td class=\"num\">{_percent(row['average_accuracy'])}</td></tr>"
        for label, pixels, row in (("trained once", "", first), *((f"round {i}", f"{r['n_pseudo_labels']:,}", r)
                                                                   for i, r in enumerate(rounds, 1))))
    counts = "".join(f"<tr><td>{_e(names.get(int(cls), cls))}</td>"
                     + "".join(f"<td class=\"num\">{r['pseudo_labels_per_class'][cls]:,}</td>" for r in rounds)
                     + "</tr>" for cls in rounds[0]["pseudo_labels_per_class"])
    heads = "".join(f"<th>Round {i}</th>" for i in range(1, len(rounds) + 1))
    return (f"<section><h2>Co-training with the SVM baseline</h2><p>After training, the network and the SVM "
            f"classified {cotraining['n_pool']:,} pixels of the scene outside training; those where both gave the "
            f"same class and the network was at least 90% sure became training labels, and the network was "
            f"trained again from new weights, {len(rounds)} times, each time with the labels of the last network. "
            f"The model is the last round's (its figures are those above). No test label was used: test pixels "
            f"can be among those pixels, unlabelled, as any pixel of the map can.</p>"
            f"<table><thead><tr><th>Network</th><th>Pixels labelled by agreement</th><th>Test OA</th>"
            f"<th>Test AA</th></tr></thead><tbody>{figures}</tbody></table>"
            f"<table><thead><tr><th>Class: pixels labelled by agreement</th>{heads}</tr></thead>"
            f"<tbody>{counts}</tbody></table></section>")


def _map_section(png):
    if not png:
        return ""
    width, height = png_size(png)
    scale = max(1, 560 // max(width, height))
    return (f"<section><h2>Map preview</h2><img class=\"map\" alt=\"class map preview\" "
            f"width=\"{width * scale}\" height=\"{height * scale}\" "
            f"src=\"data:image/png;base64,{base64.b64encode(png).decode('ascii')}\"></section>")


def _per_class_section(figures, classes):
    rows = figures.get("per_class")
    if not rows:
        return ""
    head = "".join(f"<th>{h}</th>" for h in ("Id", "Class", "Precision", "Recall (producer's)", "F1",
                                             "Support (pixels)"))
    body = []
    for row in rows:
        color = classes.color(row["id"])
        swatch = f"<span class=\"swatch\" style=\"background:{_e(color)}\"></span>" if color else ""
        body.append(f"<tr><td class=\"num\">{_e(row['id'])}</td><td>{swatch}{_e(row.get('name', ''))}</td>"
                    f"<td class=\"num\">{_percent(row.get('precision'))}</td>"
                    f"<td class=\"num\">{_percent(row.get('recall'))}</td>"
                    f"<td class=\"num\">{_percent(row.get('f1'))}</td>"
                    f"<td class=\"num\">{row.get('support', 0):,}</td></tr>")
    return (f"<section><h2>Per class</h2><table><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>"
            f"<p class=\"muted\">Precision: share of the pixels mapped as the class that are right. Recall: share "
            f"of the reference pixels of the class that the map gets right. AA is the mean recall.</p></section>")


def _confusion_section(figures):
    matrix = figures.get("confusion_matrix")
    if not matrix:
        return ""
    matrix = np.asarray(matrix, dtype=np.int64)
    ids = figures.get("class_ids") or [row["id"] for row in figures["per_class"]]
    names = {row["id"]: row.get("name", "") for row in figures.get("per_class", [])}
    support = {row["id"]: row.get("support") for row in figures.get("per_class", [])}
    row_totals = np.array([support.get(c) if support.get(c) is not None else matrix[i].sum()
                           for i, c in enumerate(ids)])
    unclassified = row_totals - matrix.sum(axis=1)
    show_unclassified = bool(unclassified.any())
    head = "".join(f"<th class=\"num\" title=\"{_e(names.get(c, ''))}\">{_e(c)}</th>" for c in ids)
    if show_unclassified:
        head += "<th class=\"num\" title=\"nodata or a class absent from the reference\">none</th>"
    body = []
    for i, c in enumerate(ids):
        cells = []
        for j, count in enumerate(matrix[i]):
            share = count / row_totals[i] if row_totals[i] else 0.0
            cells.append(_heat_cell(count, share, i == j, f"reference {names.get(c, c)}, mapped as "
                                    f"{names.get(ids[j], ids[j])}: {count} pixels ({100 * share:.1f}% of the "
                                    f"reference pixels of the class)"))
        if show_unclassified:
            share = unclassified[i] / row_totals[i] if row_totals[i] else 0.0
            cells.append(_heat_cell(unclassified[i], share, False, f"reference {names.get(c, c)}, no class in the map"))
        body.append(f"<tr><th>{_e(c)} {_e(names.get(c, ''))}</th>{''.join(cells)}"
                    f"<td class=\"num total\">{int(row_totals[i]):,}</td></tr>")
    column_totals = "".join(f"<td class=\"num total\">{int(t):,}</td>" for t in matrix.sum(axis=0))
    if show_unclassified:
        column_totals += f"<td class=\"num total\">{int(unclassified.sum()):,}</td>"
    return (f"<section><h2>Confusion matrix</h2>"
            f"<p class=\"muted\">Rows: reference class; columns: mapped class (ids; hover for names). Cell colour: "
            f"share of the row's reference pixels, green on the diagonal (right), red off it (confused).</p>"
            f"<div class=\"scroll\"><table class=\"confusion\"><thead><tr><th>reference \\ map</th>{head}"
            f"<th>total</th></tr></thead><tbody>{''.join(body)}"
            f"<tr><th>total</th>{column_totals}<td class=\"num total\">{int(row_totals.sum()):,}</td></tr>"
            f"</tbody></table></div></section>")


def _heat_cell(count, share, diagonal, tooltip):
    base = (26, 127, 55) if diagonal else (207, 34, 46)
    rgb = tuple(round(255 + (b - 255) * share) for b in base)
    ink = "#fff" if share > 0.55 else "#111"
    return (f"<td class=\"num\" style=\"background:rgb{rgb};color:{ink}\" title=\"{_e(tooltip)}\">"
            f"{int(count):,}</td>")


def _settings_section(record):
    if not record.is_training:
        return ""
    settings = {**record.settings, **(record.model or {})}
    if "explained_variance_ratio" in settings:
        settings["explained_variance_ratio"] = _percent(settings["explained_variance_ratio"])
    return _table_section("Settings", settings)


def _backend_note(versions):
    backend = (versions or {}).get("keras_backend")
    if backend in (None, "tensorflow"):
        return ""
    return (f"<p class=\"muted\">Keras ran on {_e(backend.upper() if backend == 'jax' else backend)}, not "
            f"TensorFlow (which has no release for this Python yet): the model file is the same, and classifies "
            f"identically with either.</p>")


def _table_section(heading, values, raw_keys=False):
    if not values:
        return ""
    rows = "".join(f"<tr><th>{_e(key if raw_keys else _label(key))}</th><td>{_e(_format(value))}</td></tr>"
                   for key, value in values.items())
    return f"<section><h2>{_e(heading)}</h2><table class=\"settings\">{rows}</table></section>"


def _label(key):
    return SETTING_LABELS.get(key) or str(key).replace("_", " ").capitalize()


def _format(value):
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) and abs(value) >= 10000:
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e5 else f"{value:,.0f}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_format(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_format(v)}" for k, v in value.items())
    return "" if value is None else str(value)


def _percent(value):
    return "&ndash;" if value is None or not math.isfinite(value) else f"{100 * value:.2f}%"


def _number(value, digits):
    return "&ndash;" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _e(value):
    return html.escape(str(value), quote=True)


_CSS = """
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
