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
import datetime
import json
import os

from ..core.classes import ClassTable
from ..core.files import written_atomically
from ..core.record import RunRecord
from ..core.splits import not_tested_message
from .accuracy_sections import (balance_section, baseline_section, confusion_section, cotraining_section,
                                fusion_section, good_practice_section, map_section, per_class_section,
                                smoothing_section)
from .charts import history_section
from .markup import CSS, escape, number, percent, table_section

#: The splits that draw test pixels at random among the training pixels' neighbours.
RANDOM_SPLITS = ("paper", "fraction", "count")
#: What the figures of a random split measure, beside them on the page.
NEXT_TO_TRAINING = ("<strong>Measured next to the training pixels:</strong> a random split draws the test pixels "
                    "among the training pixels, inside the same fields, where the network has seen almost the "
                    "same windows; expect lower figures on ground away from the training fields. The default "
                    "split (auto) holds whole fields or areas out and measures that.")
#: What the figures of a held-out split measure.
HELD_OUT = {"grouped": "<strong>Measured on fields the training never saw:</strong> whole fields of each class were "
                       "held out for testing, and no training window reaches them: the accuracy to expect where "
                       "the map has no labels.",
            "disjoint": "<strong>Measured on ground the training never saw:</strong> a contiguous area of each class "
                        "was held out for testing, and no training window reaches it: the accuracy to expect where "
                        "the map has no labels."}


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
             "Variance explained by the components": percent(info["explained_variance_ratio"]),
             "Network parameters": info["parameters"], "Padding at the raster edge": info["padding"],
             "Dropout": info["dropout"],
             "The map": the_map(info)}
    lead = [table_section("Model", facts, raw_keys=True), _classes_section(classes),
            _wavelengths_section(record.wavelengths)]
    title = f"Fast 3D CNN model {os.path.basename(info['file']['path'])}"
    return _write_page(html_path, info, render_html(record, title=title, lead=lead))


def the_map(info):
    """How a model makes its map, in words, from its header's steps (``core.modelfile.describe_model``'s
    ``info`` or ``map_steps``): the network alone or fused with the forest (and the SVM), then smoothed and
    weighted where the header says so. The modelinfo page, its log and classify's log say it alike."""
    fusion = info.get("fusion")
    return ((f"the network fused with a random forest of {fusion['trees']} trees"
             + (f" and an SVM of {fusion['support_vectors']} support vectors" if "support_vectors" in fusion else "")
             + f" ({fusion['method']})" if fusion else "the network alone")
            + (f", smoothed over {info['smoothing']['radius']} pixels" if info.get("smoothing") else "")
            + (", its classes weighted against their training shares" if info.get("balance") else ""))


def _classes_section(classes):
    rows = "".join(f"<tr><td class=\"num\">{c.id}</td><td><span class=\"swatch\" style=\"background:{escape(c.color)}\">"
                   f"</span>{escape(c.label)}</td><td>{escape(c.color)}</td></tr>" for c in classes.completed())
    return (f"<section><h2>Classes</h2><table><thead><tr><th>Id</th><th>Name</th><th>Colour</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></section>")


def _wavelengths_section(wavelengths):
    if not wavelengths:
        return ("<section><h2>Band wavelengths</h2><p>The training raster carried no wavelengths: rasters are "
                "matched to the model by their band count only.</p></section>")
    listed = ", ".join(f"{i}: {number(w, 1)}" for i, w in enumerate(wavelengths, 1))
    return f"<section><h2>Band wavelengths (nm, by input band)</h2><p>{listed}</p></section>"


def render_html(record, map_preview_png=None, title=None, lead=()):
    """The page; ``lead`` are HTML sections placed before the accuracy figures."""
    title = title or "Fast 3D CNN accuracy report"
    sections = [
        *lead,
        _summary(record),
        good_practice_section(record.area_estimates),
        baseline_section(record),
        fusion_section(record),
        smoothing_section(record),
        balance_section(record),
        cotraining_section(record),
        map_section(map_preview_png),
        per_class_section(record.accuracy, record.classes, (record.split or {}).get("not_tested", ())),
        confusion_section(record.accuracy),
        history_section(record.history, record.best_epoch, record.stop_reason),
        _settings_section(record),
        table_section("Inputs", record.inputs),
        table_section("Timings", record.timings),
        table_section("Software versions", record.versions, raw_keys=True),
        _backend_note(record.versions),
    ]
    generated = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{escape(title)}</title><style>{CSS}</style></head><body>\n"
            f"<h1>{escape(title)}</h1><p class=\"muted\">Written {escape(generated)}</p>\n"
            + "\n".join(s for s in sections if s) + "\n</body></html>\n")


def _summary(record):
    figures, split = record.accuracy, record.split
    if not figures:
        return ""
    cards = "".join(
        f"<div class=\"card\"><div class=\"value\">{text}</div><div class=\"muted\">{escape(label)}</div></div>"
        for label, text in (("Overall accuracy (OA)", percent(figures.get("overall_accuracy"))),
                            ("Average accuracy (AA)", percent(figures.get("average_accuracy"))),
                            ("Cohen's kappa", number(figures.get("kappa"), 4))))
    notes = []
    if figures.get("n_pixels") is not None:
        scope = "held-out test pixels" if split else "labelled reference pixels"
        notes.append(f"Scored on {figures['n_pixels']:,} {scope}.")
    if split:
        notes.append(f"Split: {escape(split.get('description') or split.get('method'))}.")
        if split.get("method") in RANDOM_SPLITS:
            notes.append(NEXT_TO_TRAINING)
        elif split.get("method") in HELD_OUT:
            notes.append(HELD_OUT[split["method"]])
    if split and split.get("not_tested"):
        notes.append(escape(not_tested_message(split["not_tested"], record.classes.names)))
    if figures.get("n_unclassified"):
        notes.append(f"{figures['n_unclassified']:,} of them have no class in the map (nodata or a class "
                     f"absent from the reference); they count as errors.")
    if record.n_labelled_invalid_excluded:
        notes.append(f"{record.n_labelled_invalid_excluded:,} labelled pixels were nodata in the raster "
                     f"and were left out.")
    return (f"<section><h2>Accuracy</h2><div class=\"cards\">{cards}</div>"
            f"<p>{' '.join(notes)}</p></section>")


def _settings_section(record):
    if not record.is_training:
        return ""
    settings = {**record.settings, **(record.model or {})}
    if "explained_variance_ratio" in settings:
        settings["explained_variance_ratio"] = percent(settings["explained_variance_ratio"])
    return table_section("Settings", settings)


def _backend_note(versions):
    backend = (versions or {}).get("keras_backend")
    if backend in (None, "tensorflow"):
        return ""
    return (f"<p class=\"muted\">Keras ran on {escape(backend.upper() if backend == 'jax' else backend)}, not "
            f"TensorFlow (which has no release for this Python yet): the model file is the same, and classifies "
            f"identically with either.</p>")


