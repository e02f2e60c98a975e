"""The two ways a run ends without a result, shared by the core and the plugin.

``InputError`` is input that cannot work, with a message naming the value and the fix; every
specific input error of the core (bands, components, splits, model files) derives from it.
``Cancelled`` is the user's Cancel, raised wherever the work notices it. The plugin turns both into
QGIS's exception in one place (``algorithm_base``); scripts catch them by these names.
"""
from __future__ import annotations

from collections.abc import Callable


class InputError(ValueError):
    """Input that cannot work; the message names the value and the fix."""


class Cancelled(Exception):
    """The user cancelled; nothing was produced."""


def check_cancel(should_cancel: Callable[[], bool] | None) -> None:
    """Raises Cancelled when ``should_cancel`` (a callable, or None for never) says so."""
    if should_cancel is not None and should_cancel():
        raise Cancelled()
