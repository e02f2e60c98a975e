"""The progress an algorithm reports, in the form the core's callbacks take."""
from qgis.core import QgsProcessingFeedback

from ..core.errors import check_cancel


class Progress:
    """QgsProcessingFeedback seen through the core's callbacks, over a part of the progress bar."""

    def __init__(self, feedback: QgsProcessingFeedback, start: float = 0.0, end: float = 100.0) -> None:
        self.feedback, self.start, self.end = feedback, float(start), float(end)

    def __call__(self, percent: float) -> None:
        """Reports ``percent`` (0-100) of this part."""
        percent = min(max(float(percent), 0.0), 100.0)
        self.feedback.setProgress(self.start + (self.end - self.start) * percent / 100.0)

    def part(self, start: float, end: float) -> "Progress":
        """The sub-range ``start``-``end`` percent of this part, as its own Progress."""
        span = self.end - self.start
        return Progress(self.feedback, self.start + span * start / 100.0, self.start + span * end / 100.0)

    def should_cancel(self) -> bool:
        return self.feedback.isCanceled()

    def check_cancel(self) -> None:
        """Raises Cancelled when the user has pressed Cancel."""
        check_cancel(self.should_cancel)

    def log(self, text: str) -> None:
        self.feedback.pushInfo(text)

    def warn(self, text: str) -> None:
        self.feedback.pushWarning(text)
