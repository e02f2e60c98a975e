"""The reporter a run tells its progress, messages and Cancel through."""
import pytest

from fast3dcnn_qgis.core.errors import Cancelled
from fast3dcnn_qgis.core.progress import SILENT, CallbackReporter


def test_a_part_lands_its_progress_in_its_span_and_passes_messages_and_cancel_on():
    percents, messages, asked = [], [], []
    reporter = CallbackReporter(percents.append, messages.append, lambda: asked.append(1) or len(asked) > 1)
    step = reporter.part(0.2, 0.6).part(0.5, 1.0)
    for fraction in (-0.5, 0.0, 0.5, 1.0, 2.0):
        step.progress(fraction)
    assert percents == pytest.approx([40, 40, 50, 60, 60])
    step.log("half way")
    assert messages == ["half way"]
    step.check_cancel()
    with pytest.raises(Cancelled):
        step.check_cancel()


def test_the_silent_reporter_and_missing_callables_report_nothing_and_never_cancel():
    for reporter in (SILENT, CallbackReporter()):
        reporter.part(0.1, 0.9).progress(0.5)
        reporter.log("unheard")
        reporter.check_cancel()
        assert not reporter.is_canceled()
