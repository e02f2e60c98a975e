"""QGIS's feedback as the core's Reporter, so an algorithm hands its one progress object to the core
and to the plugin's own steps alike."""
from __future__ import annotations

from qgis.core import QgsProcessingFeedback

from ..core.progress import Reporter


class Progress(Reporter):
    """QgsProcessingFeedback: progress as a fraction of the run (``part`` gives a step its span of
    the bar), messages in the log, Cancel from the dialog's button."""

    def __init__(self, feedback: QgsProcessingFeedback) -> None:
        self.feedback = feedback

    def progress(self, fraction: float) -> None:
        self.feedback.setProgress(100.0 * min(max(float(fraction), 0.0), 1.0))

    def log(self, message: str) -> None:
        self.feedback.pushInfo(message)

    def warn(self, message: str) -> None:
        self.feedback.pushWarning(message)

    def is_canceled(self) -> bool:
        return self.feedback.isCanceled()
