"""The accuracy report: one self-contained HTML page and the same figures as JSON beside it.

The page is mailed, archived and opened long after the run, away from the model and the map, so it
carries everything inline: the curves as SVG, the confusion matrix as a coloured table, the map
preview as an embedded PNG; it loads no script, font or image from anywhere. The JSON is for
programs (and for comparing runs), so it holds the figures exactly as given.

Two kinds of input render with the same function: the metadata of a trained classifier (figures
under ``report``, plus settings, split, history, timings and versions) and a bare accuracy report
of ``core.metrics.accuracy_report`` with whatever context the caller adds (``inputs``, ``versions``,
...). Sections whose figures are absent are left out.

Only numpy and the standard library are needed (GDAL only for ``class_map_preview``), so scripts
and tests can write reports without QGIS.
"""
import base64
import datetime
import html
import json
import math
import os
import struct
import zlib

import numpy as np

from .core.files import written_atomically

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
    "validation_every": "Validation pixels scored every (epochs)",
    "components": "PCA components",
    "excluded_bands": "Excluded bands (1-based)",
    "kept_bands": "Kept bands (1-based)",
    "explained_variance_ratio": "Variance explained by the components",
    "parameters": "Network parameters",
    "train_seconds": "Training (s)",
    "pca_seconds": "PCA fit (s)",
    "reduce_seconds": "Reduction of the scene (s)",
    "test_seconds": "Test-set prediction (s)",
    "train_patches_per_second": "Training speed (patches/s)",
}

#: Keys rendered by their own section, never in a key/value table.
_FIGURE_KEYS = {"overall_accuracy", "average_accuracy", "kappa", "n_pixels", "n_unclassified", "class_ids",
                "per_class", "confusion_matrix", "split", "history", "best_epoch", "timings", "report",
                "versions", "title", "n_labelled_invalid_excluded"}

_UNKNOWN_COLOR = (128, 128, 128)
_SERIES_COLORS = ("#1f6feb", "#d1242f")


def write_report(report, html_path, map_preview_png=None, title=None, class_colors=None):
    """Writes the HTML page and the JSON beside it (same name, ``.json``); returns both paths.

    ``class_colors`` ({id: '#rrggbb'}) adds colour swatches to the per-class table. Each file is
    written to a temporary name and renamed, so a reader never sees half a report.
    """
    json_path = os.path.splitext(html_path)[0] + ".json"
    with written_atomically(json_path) as stream:
        stream.write(json.dumps(json_ready(report), indent=2, allow_nan=False))
    with written_atomically(html_path) as stream:
        stream.write(render_html(report, map_preview_png, title, class_colors))
    return html_path, json_path


def json_ready(value):
    """``value`` with numpy scalars and arrays as Python numbers and lists, NaN as null."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [json_ready(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(value) else float(value)
    return value


def render_html(report, map_preview_png=None, title=None, class_colors=None):
    figures = report.get("report", report)
    title = title or report.get("title") or "Fast 3D CNN accuracy report"
    split = report.get("split") or figures.get("split")
    timings = figures.get("timings") or report.get("timings")
    sections = [
        _summary(figures, split),
        _map_section(map_preview_png),
        _per_class_section(figures, class_colors or {}),
        _confusion_section(figures),
        _history_section(figures.get("history"), figures.get("best_epoch")),
        _settings_section(report),
        *(_table_section(_label(key), value) for key, value in report.items()
          if isinstance(value, dict) and key not in _FIGURE_KEYS and key != "training"),
        _table_section("Timings", timings),
        _table_section("Software versions", report.get("versions"), raw_keys=True),
    ]
    generated = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>\n"
            f"<h1>{_e(title)}</h1><p class=\"muted\">Written {_e(generated)}</p>\n"
            + "\n".join(s for s in sections if s) + "\n</body></html>\n")


def _summary(figures, split):
    if "overall_accuracy" not in figures:
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
    if figures.get("n_labelled_invalid_excluded"):
        notes.append(f"{figures['n_labelled_invalid_excluded']:,} labelled pixels were nodata in the raster "
                     f"and were left out.")
    return (f"<section><h2>Accuracy</h2><div class=\"cards\">{cards}</div>"
            f"<p>{' '.join(notes)}</p></section>")


def _map_section(png):
    if not png:
        return ""
    width, height = struct.unpack(">II", png[16:24])
    scale = max(1, 560 // max(width, height))
    return (f"<section><h2>Map preview</h2><img class=\"map\" alt=\"class map preview\" "
            f"width=\"{width * scale}\" height=\"{height * scale}\" "
            f"src=\"data:image/png;base64,{base64.b64encode(png).decode('ascii')}\"></section>")


def _per_class_section(figures, class_colors):
    rows = figures.get("per_class")
    if not rows:
        return ""
    swatches = bool(class_colors)
    head = "".join(f"<th>{h}</th>" for h in ("Id", "Class", "Precision", "Recall (producer's)", "F1",
                                             "Support (pixels)"))
    body = []
    for row in rows:
        swatch = ""
        if swatches:
            color = class_colors.get(row["id"], class_colors.get(str(row["id"])))
            if color:
                swatch = f"<span class=\"swatch\" style=\"background:{_e(color)}\"></span>"
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


def _history_section(history, best_epoch):
    if not history or not history.get("loss"):
        return ""
    charts = [
        _line_chart("Loss", {"training": history.get("loss"), "validation": history.get("val_loss")}, best_epoch),
        _line_chart("Accuracy", {"training": history.get("accuracy"), "validation": history.get("val_accuracy")},
                    best_epoch, (0.0, 1.0)),
    ]
    note = (f"<p class=\"muted\">The dashed line marks epoch {best_epoch + 1}, whose weights were kept "
            f"(best validation accuracy).</p>" if best_epoch is not None else "")
    return f"<section><h2>Training curves</h2><div class=\"charts\">{''.join(charts)}</div>{note}</section>"


def _line_chart(name, series, best_epoch=None, y_range=None, width=460, height=260):
    """An SVG line chart of per-epoch values (epochs from 1), one polyline per series."""
    series = {label: [v if v is not None and math.isfinite(v) else None for v in values]
              for label, values in series.items() if values}
    finite = [v for values in series.values() for v in values if v is not None]
    if not finite:
        return ""
    epochs = max(len(values) for values in series.values())
    if y_range:
        low, high = y_range
        ticks = np.linspace(low, high, 5)
    else:
        low, high, ticks = _nice_axis(min(0.0, min(finite)), max(finite))
    left, right, top, bottom = 52, 12, 28, 40
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(epoch):  # epoch counted from 1
        return left + (plot_w * (epoch - 1) / (epochs - 1) if epochs > 1 else plot_w / 2)

    def y(value):
        return top + plot_h * (1 - (value - low) / ((high - low) or 1.0))

    parts = [f"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" "
             f"viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"{_e(name)} per epoch\">",
             f"<text x=\"{left}\" y=\"16\" class=\"title\">{_e(name)} per epoch</text>"]
    for tick in ticks:
        parts.append(f"<line x1=\"{left}\" x2=\"{left + plot_w}\" y1=\"{y(tick):.1f}\" y2=\"{y(tick):.1f}\" "
                     f"class=\"grid\"/><text x=\"{left - 6}\" y=\"{y(tick) + 4:.1f}\" text-anchor=\"end\">"
                     f"{tick:.3g}</text>")
    for tick in sorted({int(round(t)) for t in np.linspace(1, epochs, min(epochs, 8))}):
        parts.append(f"<text x=\"{x(tick):.1f}\" y=\"{top + plot_h + 16}\" text-anchor=\"middle\">{tick}</text>")
    parts.append(f"<text x=\"{left + plot_w / 2}\" y=\"{height - 6}\" text-anchor=\"middle\">epoch</text>")
    parts.append(f"<rect x=\"{left}\" y=\"{top}\" width=\"{plot_w}\" height=\"{plot_h}\" class=\"frame\"/>")
    if best_epoch is not None and best_epoch < epochs:
        parts.append(f"<line x1=\"{x(best_epoch + 1):.1f}\" x2=\"{x(best_epoch + 1):.1f}\" y1=\"{top}\" "
                     f"y2=\"{top + plot_h}\" class=\"best\"/>")
    for (label, values), color in zip(series.items(), _SERIES_COLORS):
        points = [(x(i + 1), y(v)) for i, v in enumerate(values) if v is not None]
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
        parts.append(f"<polyline points=\"{path}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"/>")
        if len(points) <= 30:
            parts.extend(f"<circle cx=\"{px:.1f}\" cy=\"{py:.1f}\" r=\"2.5\" fill=\"{color}\"/>"
                         for px, py in points)
    for k, ((label, _), color) in enumerate(zip(series.items(), _SERIES_COLORS)):
        lx, ly = left + plot_w - 190 + 95 * k, 16
        parts.append(f"<line x1=\"{lx}\" x2=\"{lx + 18}\" y1=\"{ly - 4}\" y2=\"{ly - 4}\" stroke=\"{color}\" "
                     f"stroke-width=\"2\"/><text x=\"{lx + 24}\" y=\"{ly}\">{_e(label)}</text>")
    parts.append("</svg>")
    return "".join(parts)


def _nice_axis(low, high, count=5):
    """Axis limits and ticks at round steps (1, 2 or 5 times a power of ten) covering low..high."""
    span = (high - low) or abs(high) or 1.0
    raw = span / (count - 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    low, high = math.floor(low / step) * step, math.ceil(high / step) * step
    return low, high, np.arange(low, high + step / 2, step)


def _settings_section(report):
    settings = dict(report.get("training") or {})
    settings.update((key, value) for key, value in report.items()
                    if key in SETTING_LABELS and not isinstance(value, dict))
    if "explained_variance_ratio" in settings:
        settings["explained_variance_ratio"] = _percent(settings["explained_variance_ratio"])
    return _table_section("Settings", settings)


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


# --- map preview ---------------------------------------------------------------------------------

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
        color = class_colors.get(int(value), class_colors.get(str(int(value))))
        if nodata is not None and value == nodata:
            lut[i] = (0, 0, 0, 0)
        else:
            lut[i] = (*(_rgb(color) if color else _UNKNOWN_COLOR), 255)
    return png_bytes(lut[inverse.reshape(labels.shape)])


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


def class_map_preview(path, max_side=560):
    """PNG bytes of a written class map (band 1), read thinned to at most ``max_side`` pixels a side,
    in the colours of its colour table, nodata transparent.
    """
    from osgeo import gdal

    dataset = gdal.Open(path)
    if dataset is None:
        raise ValueError(f"cannot open the class map {path} for its preview")
    band = dataset.GetRasterBand(1)
    step = max(1, math.ceil(max(dataset.RasterXSize, dataset.RasterYSize) / max_side))
    labels = band.ReadAsArray(buf_xsize=max(1, dataset.RasterXSize // step),
                              buf_ysize=max(1, dataset.RasterYSize // step))
    table = band.GetColorTable()
    colors = {}
    if table is not None:
        for value in np.unique(labels):
            if 0 <= value < table.GetCount():
                r, g, b = table.GetColorEntry(int(value))[:3]
                colors[int(value)] = f"#{r:02x}{g:02x}{b:02x}"
    nodata = band.GetNoDataValue()
    return class_map_png(labels, colors, None if nodata is None else int(nodata))


def _rgb(color):
    if isinstance(color, str):
        color = color.lstrip("#")
        return tuple(int(color[i:i + 2], 16) for i in (0, 2, 4))
    return tuple(int(c) for c in color[:3])


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
