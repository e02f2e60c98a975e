"""Where each algorithm's Help button leads: its section of docs/user-guide.md, read on the code host.

The guide is plain Markdown there (no site generator), so a section's address is the host's anchor for
its heading; the guide's algorithm sections are headed by the algorithms' display names, and a test
checks that every anchor made here is a heading of the guide.
"""
import re

USER_GUIDE_URL = "https://github.com/fast3dcnn-qgis/fast3dcnn_qgis/blob/main/docs/user-guide.md"


def heading_anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading: lower case, punctuation dropped except '-' and '_',
    spaces to '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def section_url(heading: str) -> str:
    return f"{USER_GUIDE_URL}#{heading_anchor(heading)}"
