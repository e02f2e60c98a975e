"""The training curves as inline SVG: loss and accuracy per epoch, training beside validation.

Drawn by hand rather than with a plotting library, so the report stays one self-contained page
that needs nothing QGIS does not ship; epochs where validation was not scored are gaps.
"""
import math
from html import escape

import numpy as np

_SERIES_COLORS = ("#1f6feb", "#d1242f")


def history_section(history, best_epoch, stop_reason=None):
    """The curves, the best epoch marked, and why training ended (``stop_reason``, in words)."""
    if not history or not history.get("loss"):
        return ""
    charts = [
        line_chart("Loss", {"training": history.get("loss"), "validation": history.get("val_loss")}, best_epoch),
        line_chart("Accuracy", {"training": history.get("accuracy"), "validation": history.get("val_accuracy")},
                    best_epoch, (0.0, 1.0)),
    ]
    note = (f"<p class=\"muted\">The dashed line marks epoch {best_epoch + 1}, whose weights were kept "
            f"(best validation accuracy).</p>" if best_epoch is not None else "")
    if stop_reason:
        note += f"<p>Training {escape(stop_reason)}.</p>"
    return f"<section><h2>Training curves</h2><div class=\"charts\">{''.join(charts)}</div>{note}</section>"


def line_chart(name, series, best_epoch=None, y_range=None, width=460, height=260):
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
             f"viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"{escape(name)} per epoch\">",
             f"<text x=\"{left}\" y=\"16\" class=\"title\">{escape(name)} per epoch</text>"]
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
                     f"stroke-width=\"2\"/><text x=\"{lx + 24}\" y=\"{ly}\">{escape(label)}</text>")
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
