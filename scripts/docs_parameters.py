"""Writes the parameter tables of docs/user-guide.md from the algorithms' own help sentences, so that
the guide and the dialogs' help never disagree (the help is declared once, with each parameter).

Each algorithm section of the guide holds a marker pair that this script fills:

    <!-- parameters fast3dcnn:train -->
    <!-- end parameters -->

Rerun after changing a parameter (tests/plugin/test_user_guide.py fails until then):

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/docs_parameters.py
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GUIDE = os.path.join(ROOT, "docs", "user-guide.md")
MARKERS = re.compile(r"(<!-- parameters (?P<id>[\w:]+) -->\n).*?(<!-- end parameters -->)", re.DOTALL)


def parameter_table(algorithm):
    """Markdown: a table of the parameters, then one of the outputs."""
    def cell(text):
        return text.replace("|", "\\|").replace("\n", " ")

    blocks = []
    for heading, rows in algorithm.help_rows():
        lines = [f"| {heading[:-1]} | `qgis_process` name | Notes | What it is |", "|---|---|---|---|"]
        lines += [f"| {cell(label)} | `{key}` | {cell(', '.join(notes))} | {cell(text)} |"
                  for label, key, notes, text in rows]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def with_tables(text, algorithms):
    """``text`` (the guide) with every marker pair filled from ``algorithms`` (id -> algorithm); an
    unknown id is an error, so a renamed algorithm cannot leave a stale table."""
    def fill(match):
        algorithm = algorithms.get(match["id"])
        if algorithm is None:
            raise SystemExit(f"docs_parameters: the guide names {match['id']}, which is no algorithm "
                             f"(known: {', '.join(sorted(algorithms))})")
        return f"{match.group(1)}\n{parameter_table(algorithm)}\n{match.group(3)}"
    return MARKERS.sub(fill, text)


def provider_algorithms():
    """id -> algorithm of the plugin's provider, in a QGIS application started here."""
    from qgis.core import QgsApplication

    from fast3dcnn_qgis.provider import Fast3DCNNProvider

    provider = Fast3DCNNProvider()
    QgsApplication.processingRegistry().addProvider(provider)
    return {algorithm.id(): algorithm for algorithm in provider.algorithms()}


def main():
    sys.path.insert(0, ROOT)
    from qgis.core import QgsApplication

    app = QgsApplication([], False)
    app.initQgis()
    with open(GUIDE, encoding="utf-8") as stream:
        text = stream.read()
    updated = with_tables(text, provider_algorithms())
    if updated != text:
        with open(GUIDE + ".part", "w", encoding="utf-8") as stream:
            stream.write(updated)
        os.replace(GUIDE + ".part", GUIDE)
    print(f"{GUIDE}: {'updated' if updated != text else 'already up to date'}")
    app.exitQgis()


if __name__ == "__main__":
    main()
