"""What a long run tells its caller and asks it, as one object: how far it is, what it found, and
whether to stop.

Progress, messages and Cancel come from one source (QGIS's feedback, a script's print), so a run
takes one ``Reporter`` instead of three callables that every step would pass along together. A step
that is a part of the run reports its own progress from 0 to 1 to ``reporter.part(start, end)``
and need not know where its span lies on the caller's bar.
"""
from __future__ import annotations

from collections.abc import Callable

from .errors import check_cancel


class Reporter:
    """Reports nothing and never cancels: the default for callers that want neither. Subclasses
    override what their caller listens to."""

    def progress(self, fraction: float) -> None:
        """``fraction`` (0 to 1) of the run is done."""

    def log(self, message: str) -> None:
        """A line for the user."""

    def warn(self, message: str) -> None:
        """A line the user should not miss (a result left out, a setting overruled)."""
        self.log(message)

    def is_canceled(self) -> bool:
        return False

    def check_cancel(self) -> None:
        """Raises Cancelled when the caller asks to stop."""
        check_cancel(self.is_canceled)

    def part(self, start: float, end: float) -> "Reporter":
        """This reporter for a step that takes the span ``start``-``end`` (fractions) of the run."""
        return _Part(self, start, end)


#: The reporter of callers that want no progress, no messages and no Cancel.
SILENT = Reporter()


class CallbackReporter(Reporter):
    """A Reporter made of plain callables, each optional: ``progress(percent)`` (0 to 100, as QGIS's
    feedback and progress bars take it), ``log(message)`` and ``should_cancel()``."""

    def __init__(self, progress: Callable[[float], object] | None = None,
                 log: Callable[[str], object] | None = None,
                 should_cancel: Callable[[], bool] | None = None):
        self._progress, self._log, self._should_cancel = progress, log, should_cancel

    def progress(self, fraction: float) -> None:
        if self._progress is not None:
            self._progress(100 * fraction)

    def log(self, message: str) -> None:
        if self._log is not None:
            self._log(message)

    def is_canceled(self) -> bool:
        return self._should_cancel is not None and bool(self._should_cancel())


class _Part(Reporter):
    """The span ``start``-``end`` of ``whole``'s progress; messages and Cancel go to ``whole``."""

    def __init__(self, whole: Reporter, start: float, end: float):
        self.whole, self.start, self.end = whole, start, end

    def progress(self, fraction: float) -> None:
        self.whole.progress(self.start + (self.end - self.start) * min(max(fraction, 0.0), 1.0))

    def log(self, message: str) -> None:
        self.whole.log(message)

    def warn(self, message: str) -> None:
        self.whole.warn(message)

    def is_canceled(self) -> bool:
        return self.whole.is_canceled()
