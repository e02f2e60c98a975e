"""The progress an algorithm reports, in the form the core's callbacks take."""
from ..core.errors import check_cancel


class Progress:
    """QgsProcessingFeedback seen through the core's callbacks, over a part of the progress bar."""

    def __init__(self, feedback, start=0.0, end=100.0):
        self.feedback, self.start, self.end = feedback, float(start), float(end)

    def __call__(self, percent):
        """Reports ``percent`` (0-100) of this part."""
        percent = min(max(float(percent), 0.0), 100.0)
        self.feedback.setProgress(self.start + (self.end - self.start) * percent / 100.0)

    def part(self, start, end):
        """The sub-range ``start``-``end`` percent of this part, as its own Progress."""
        span = self.end - self.start
        return Progress(self.feedback, self.start + span * start / 100.0, self.start + span * end / 100.0)

    def should_cancel(self):
        return self.feedback.isCanceled()

    def check_cancel(self):
        """Raises Cancelled when the user has pressed Cancel."""
        check_cancel(self.should_cancel)

    def log(self, text):
        self.feedback.pushInfo(text)

    def warn(self, text):
        self.feedback.pushWarning(text)
