"""The front door holds: README.md stays short, and every relative link and picture in README.md and
docs/ leads somewhere, down to the heading an anchor names (GitHub's anchors, as the reader's browser
resolves them)."""
import glob
import os
import re

import pytest

from fast3dcnn_qgis.algorithms.user_guide import heading_anchor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGES = [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)|<img\s[^>]*src=\"([^\"]+)\"")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.DOTALL | re.MULTILINE)


def prose(path):
    """The page without its fenced code blocks, where brackets and parentheses are code."""
    with open(path, encoding="utf-8") as stream:
        return FENCE.sub("", stream.read())


def anchors(path):
    """The anchors of the page's headings, with GitHub's -1, -2 ... for repeated ones."""
    seen, found = {}, set()
    for line in prose(path).splitlines():
        heading = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading:
            anchor = heading_anchor(heading.group(1))
            found.add(anchor if anchor not in seen else f"{anchor}-{seen[anchor]}")
            seen[anchor] = seen.get(anchor, 0) + 1
    return found


def links(path):
    for match in LINK.finditer(prose(path)):
        target = match.group(1) or match.group(2)
        if not re.match(r"[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):  # http:, mailto: ... are not checked
            yield target


def test_the_readme_is_a_front_door_of_at_most_200_lines():
    with open(PAGES[0], encoding="utf-8") as stream:
        assert len(stream.read().splitlines()) <= 200
    assert len(PAGES) > 1, "docs/ holds the user guide, the method, benchmarks and development notes"


@pytest.mark.parametrize("page", PAGES, ids=lambda path: os.path.relpath(path, ROOT))
def test_every_relative_link_and_picture_resolves(page):
    broken = []
    for target in links(page):
        path, _, anchor = target.partition("#")
        resolved = os.path.normpath(os.path.join(os.path.dirname(page), path)) if path else page
        if not os.path.exists(resolved):
            broken.append(f"{target}: no such file")
        elif anchor and resolved.endswith(".md") and anchor not in anchors(resolved):
            broken.append(f"{target}: no heading with that anchor in {os.path.relpath(resolved, ROOT)}")
    assert not broken, "\n".join(broken)


def test_the_check_finds_a_broken_link(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# A title\n[ok](#a-title) [gone](missing.md) ![pic](images/none.png)\n"
                    "```\n[code](not-a-link)\n```\n", encoding="utf-8")
    assert list(links(str(page))) == ["#a-title", "missing.md", "images/none.png"]
    assert anchors(str(page)) == {"a-title"}
