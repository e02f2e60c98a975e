"""The report's sections on accuracy: area-weighted estimates, the SVM baseline, the fusion with the
forest, co-training, the map preview, the per-class table and the confusion matrix as a coloured table."""
import base64

import numpy as np

from ..core.baseline import verdict
from ..core.forest import fused_model_name
from ..core.smoothing import AGREEMENT, MIN_PAIRS
from .markup import escape, number, percent
from .png import png_size


def good_practice_section(estimates):
    """Accuracy and area weighted by the map's class areas (core.area_estimation), with 95% intervals."""
    if not estimates:
        return ""
    heading = "<h2>Accuracy and area to good practice (Olofsson et al. 2014)</h2>"
    if "not_computed" in estimates:
        return f"<section>{heading}<p>{escape(estimates['not_computed'])}</p></section>"
    unit = estimates["unit"]

    def interval(value, half, shown):
        return "&ndash;" if value is None else f"{shown(value)} ± {shown(half) if half is not None else '&ndash;'}"

    def area(value):
        return f"{value:,.1f}" if unit != "pixels" else f"{value:,.0f}"

    rows = "".join(
        f"<tr><td>{escape(c['name'])}</td><td class=\"num\">{area(c['mapped_area'])}</td>"
        f"<td class=\"num\">{interval(c['area'], c['area_ci95'], area)}</td>"
        f"<td class=\"num\">{interval(c['users_accuracy'], c['users_ci95'], percent)}</td>"
        f"<td class=\"num\">{interval(c['producers_accuracy'], c['producers_ci95'], percent)}</td>"
        f"<td class=\"num\">{c['reference_pixels']:,}</td></tr>" for c in estimates["per_class"])
    left_out = estimates.get("n_reference_unclassified")
    note = (f" {left_out:,} reference pixels on unclassified map pixels belong to no stratum and are left out "
            f"here." if left_out else "")
    return (f"<section>{heading}<div class=\"cards\"><div class=\"card\"><div class=\"value\">"
            f"{interval(estimates['overall_accuracy'], estimates['overall_ci95'], percent)}</div>"
            f"<div class=\"muted\">Overall accuracy, area-weighted (95% interval)</div></div></div>"
            f"<table><thead><tr><th>Class</th><th>Mapped area ({escape(unit)})</th>"
            f"<th>Error-adjusted area ({escape(unit)}, 95%)</th><th>User's accuracy</th><th>Producer's accuracy</th>"
            f"<th>Reference pixels</th></tr></thead><tbody>{rows}</tbody></table>"
            f"<p class=\"muted\">Strata are the map's classes; each class's reference pixels are weighted by its "
            f"share of the map, which gives unbiased accuracies and areas when the reference pixels are a random "
            f"sample within each map class. Intervals are 1.96 standard errors (Olofsson et al. 2014, equations "
            f"1-10). The figures above this section are the plain (unweighted) ones over the reference pixels."
            f"{note}</p></section>")


def baseline_section(record):
    """The pixel classifiers (the SVM, and the random forest where the record has it) beside the
    network on the same test pixels, and which did better."""
    baseline = record.baseline
    if not baseline:
        return ""
    others = [("SVM", baseline)] + ([("Random forest", record.forest)] if record.forest else [])
    cnn = record.accuracy
    model = fused_model_name(record.fusion)
    # A fused model's network alone, where the record has it: its summary figures only.
    alone = [("3D CNN alone", {"accuracy": record.fusion["network_accuracy"]})] if record.fusion else []
    heads = "".join(f"<th>{name}</th>" for name, _ in alone + others)
    overall = "".join(
        f"<tr><td>{label}</td><td class=\"num\">{shown(cnn.get(key))}</td>"
        + "".join(f"<td class=\"num\">{shown(other['accuracy'].get(key))}</td>" for _, other in alone + others)
        + "</tr>"
        for label, key, shown in (("Overall accuracy (OA)", "overall_accuracy", percent),
                                  ("Average accuracy (AA)", "average_accuracy", percent),
                                  ("Cohen's kappa", "kappa", lambda value: number(value, 4))))
    per_class = [{row["id"]: row for row in other["accuracy"].get("per_class", [])} for _, other in others]
    rows = "".join(
        f"<tr><td>{escape(row.get('name', row['id']))}</td>"
        + "".join(f"<td class=\"num\">{percent(figures.get(key))}</td>"
                  for key in ("recall", "f1") for figures in [row] + [table.get(row["id"], {}) for table in per_class])
        + "</tr>" for row in cnn.get("per_class", []))
    names = [model] + [name for name, _ in others]
    columns = "".join(f"<th>{key}, {name}</th>" for key in ("Recall", "F1") for name in names)
    verdicts = " ".join(escape(verdict(cnn, other, model)) for _, other in others)
    return (f"<section><h2>Against plain pixel classifiers</h2><p><strong>{verdicts}</strong></p>"
            f"<table><thead><tr><th></th><th>{model}</th>{heads}</tr></thead><tbody>{overall}</tbody></table>"
            f"<table><thead><tr><th>Class</th>{columns}</tr></thead><tbody>{rows}</tbody></table>"
            f"<p class=\"muted\">{_svm_note(baseline)}{_forest_note(record.forest)} They see each pixel's spectrum "
            f"only, no neighbourhood: where they beat the network, the network's spatial context does not help "
            f"on this ground.</p></section>")


def _after(record, step):
    """The map's figures right after ``step`` ("fusion" or "smoothing"), and what the later steps that
    changed them are called (none: the figures are the report's own)."""
    later = []
    if step == "fusion" and record.smoothing and record.smoothing["radius"]:
        later.append((record.smoothing["unsmoothed_accuracy"], "smoothing"))
    if record.balance:
        later.append((record.balance["unweighted_accuracy"], "the classes' weighting"))
    return (later[0][0] if later else record.accuracy), [called for _, called in later]


def fusion_section(record):
    """How the map fuses the network with the random forest (and the SVM, from format 6), and what each
    gives alone."""
    fusion = record.fusion
    if not fusion:
        return ""
    alone, svm = fusion["network_accuracy"], "support_vectors" in fusion
    others = [(name, figures) for name, figures in (("the forest", record.forest), ("the SVM", record.baseline))
              if figures and (name == "the forest" or svm)]
    each = "".join(f", {name} alone {percent(figures['accuracy']['overall_accuracy'])}" for name, figures in others)
    fused, later = _after(record, "fusion")
    which = f"The fused figures before {' and '.join(later)}" if later else "The figures above are the fused map's"
    return (f"<section><h2>The map: the network fused with a random forest{' and an SVM' if svm else ''}</h2><p>"
            f"Each pixel's class is the one with the highest {escape(fusion['method'])} ({fusion['trees']} trees"
            + (f" and an SVM of {fusion['support_vectors']:,} support vectors" if svm else "")
            + f" on the pixel's spectrum, stored in the model file; Classify applies {'them' if svm else 'both'}). "
            f"On held-out ground they err on different pixels, so their mean beat each alone on the scenes this "
            f"was measured on. {which}, on {fusion['n_test']:,} test pixels: OA {percent(fused['overall_accuracy'])}"
            f", the network alone {percent(alone['overall_accuracy'])}{each}.</p></section>")


def smoothing_section(record):
    """Whether the map is smoothed, over what radius and why, and the figures without it."""
    smoothing = record.smoothing
    if not smoothing:
        return ""
    agreement = percent(smoothing["agreement"])
    smoothed, later = _after(record, "smoothing")
    which = (f"The smoothed map's figures before {' and '.join(later)}" if later
             else "The figures above are the smoothed map's")
    if not smoothing["radius"]:
        return (f"<section><h2>The map is not smoothed</h2><p>A training pixel's labelled next neighbours share "
                f"its class {agreement} of the time, the mean over the classes ({smoothing['pairs']:,} pairs of "
                f"neighbours): the classes do not come in areas wide enough (smoothing needs {percent(AGREEMENT)}, "
                f"over at least {MIN_PAIRS} pairs), so each pixel keeps its own class probabilities.</p></section>")
    return (f"<section><h2>The map: smoothed over {smoothing['radius']} pixels</h2><p>Each pixel's class "
            f"probabilities are the {escape(smoothing['method'])} ({2 * smoothing['radius'] + 1} x "
            f"{2 * smoothing['radius'] + 1} pixels; Classify applies it too). The radius is the largest at which "
            f"the training labels agree: a training pixel's labelled neighbours within it share its class "
            f"{agreement} of the time, the mean over the classes. {which}, on {smoothing['n_test']:,} test pixels: "
            f"OA {percent(smoothed['overall_accuracy'])}, before smoothing "
            f"{percent(smoothing['unsmoothed_accuracy']['overall_accuracy'])}.</p></section>")


def balance_section(record):
    """How the map weights its classes against their training shares, and the figures without it."""
    balance = record.balance
    if not balance:
        return ""
    weights = np.asarray(balance["weights"])
    names = [c.label for c in record.classes]
    # The most trained class weighs 1, and so do the classes too small to test: name it by its count.
    most = int(np.argmax(balance["train_counts"]))
    unweighted = balance["unweighted_accuracy"]
    return (f"<section><h2>The map: classes weighted against their training shares</h2><p>Each pixel's class "
            f"probabilities are the {escape(balance['method'])} (normalised; Classify applies it too), so that a "
            f"class labelled little is not mapped too seldom for that alone: weights from "
            f"{number(weights[most], 2)} ({escape(names[most])}, the most trained class) to "
            f"{number(weights.max(), 2)} ({escape(names[int(weights.argmax())])}); classes too small to test "
            f"keep 1. The figures above are the "
            f"weighted map's, on {balance['n_test']:,} test pixels: OA {percent(record.accuracy['overall_accuracy'])}"
            f" and AA {percent(record.accuracy['average_accuracy'])}, unweighted "
            f"{percent(unweighted['overall_accuracy'])} and {percent(unweighted['average_accuracy'])}.</p></section>")


def _svm_note(baseline):
    chosen = (f"chosen on {baseline['n_val']:,} validation pixels" if baseline["n_val"] else
              "fixed, as no validation pixels were left to choose them on")
    return (f"{escape(baseline['method'])}: C = {baseline['C']:g} and gamma = {baseline['gamma']:.3g} {chosen}, "
            f"fitted on {baseline['n_train']:,} of the {baseline['n_train_available']:,} training pixels (a "
            f"stratified sample above that), scored on {baseline['n_test']:,} test pixels, in "
            f"{baseline['seconds']:.1f} s.")


def _forest_note(forest):
    if not forest:
        return ""
    return (f" {escape(forest['method'])}: fitted on the same {forest['n_train']:,} pixels in "
            f"{forest['fit_seconds']:.1f} s, its test pixels predicted in {forest['predict_seconds']:.1f} s.")


def cotraining_section(record):
    """What training the network again on the pixels where it and the SVM agreed changed, round by round."""
    cotraining = record.cotraining
    if not cotraining:
        return ""
    first, rounds = cotraining["first_accuracy"], cotraining["rounds"]
    names = {row["id"]: row.get("name", row["id"]) for row in record.accuracy.get("per_class", [])}
    figures = "".join(
        f"<tr><td>{label}</td><td class=\"num\">{pixels}</td><td class=\"num\">{percent(row['overall_accuracy'])}"
        f"</td><td class=\"num\">{percent(row['average_accuracy'])}</td></tr>"
        for label, pixels, row in (("trained once", "", first), *((f"round {i}", f"{r['n_pseudo_labels']:,}", r)
                                                                   for i, r in enumerate(rounds, 1))))
    counts = "".join(f"<tr><td>{escape(names.get(int(cls), cls))}</td>"
                     + "".join(f"<td class=\"num\">{r['pseudo_labels_per_class'][cls]:,}</td>" for r in rounds)
                     + "</tr>" for cls in rounds[0]["pseudo_labels_per_class"])
    heads = "".join(f"<th>Round {i}</th>" for i in range(1, len(rounds) + 1))
    epochs = rounds[-1].get("epochs")  # absent from models trained before rounds had epochs of their own
    again = ("" if epochs is None else f" for {epochs} epoch{'s' * (epochs > 1)}") + (
        "" if len(rounds) == 1 else f", {len(rounds)} times, each time with the labels of the last network")
    return (f"<section><h2>Co-training with the SVM baseline</h2><p>After training, the network and the SVM "
            f"classified {cotraining['n_pool']:,} pixels of the scene outside training; those where both gave the "
            f"same class and the network was at least 90% sure became training labels, and the network was "
            f"trained again from new weights{again}. The model's network is the last round's. No test label "
            f"was used: test pixels "
            f"can be among those pixels, unlabelled, as any pixel of the map can.</p>"
            f"<table><thead><tr><th>Network</th><th>Pixels labelled by agreement</th><th>Test OA</th>"
            f"<th>Test AA</th></tr></thead><tbody>{figures}</tbody></table>"
            f"<table><thead><tr><th>Class: pixels labelled by agreement</th>{heads}</tr></thead>"
            f"<tbody>{counts}</tbody></table></section>")


def map_section(png):
    if not png:
        return ""
    width, height = png_size(png)
    scale = max(1, 560 // max(width, height))
    return (f"<section><h2>Map preview</h2><img class=\"map\" alt=\"class map preview\" "
            f"width=\"{width * scale}\" height=\"{height * scale}\" "
            f"src=\"data:image/png;base64,{base64.b64encode(png).decode('ascii')}\"></section>")


def per_class_section(figures, classes, not_tested=()):
    """The figures of each class; those of the classes ``not_tested`` (ids: no test pixel) read so."""
    rows = figures.get("per_class")
    if not rows:
        return ""
    head = "".join(f"<th>{h}</th>" for h in ("Id", "Class", "Precision", "Recall (producer's)", "F1",
                                             "Support (pixels)"))
    body = []
    for row in rows:
        color = classes.color(row["id"])
        swatch = f"<span class=\"swatch\" style=\"background:{escape(color)}\"></span>" if color else ""
        shares = ("<td colspan=\"3\">not tested</td>" if row["id"] in not_tested else
                  "".join(f"<td class=\"num\">{percent(row.get(key))}</td>" for key in ("precision", "recall", "f1")))
        body.append(f"<tr><td class=\"num\">{escape(row['id'])}</td><td>{swatch}{escape(row.get('name', ''))}</td>"
                    f"{shares}<td class=\"num\">{row.get('support', 0):,}</td></tr>")
    untested = (" A class not tested had too few labelled pixels to hold any out: it was trained on and has no "
                "figures here." if not_tested else "")
    return (f"<section><h2>Per class</h2><table><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>"
            f"<p class=\"muted\">Precision: share of the pixels mapped as the class that are right. Recall: share "
            f"of the reference pixels of the class that the map gets right. AA is the mean recall.{untested}</p>"
            f"</section>")


def confusion_section(figures):
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
    head = "".join(f"<th class=\"num\" title=\"{escape(names.get(c, ''))}\">{escape(c)}</th>" for c in ids)
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
        body.append(f"<tr><th>{escape(c)} {escape(names.get(c, ''))}</th>{''.join(cells)}"
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
    return (f"<td class=\"num\" style=\"background:rgb{rgb};color:{ink}\" title=\"{escape(tooltip)}\">"
            f"{int(count):,}</td>")
