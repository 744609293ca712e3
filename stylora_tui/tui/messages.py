"""Textual messages: facts in the past tense, requests end in Requested.

Screens post them up to the app, which holds the wizard's state; the app hands the state
down to each screen it opens (frogmouth's and memray's shape). No screen reaches into the
app by attribute.
"""

from __future__ import annotations

from textual.message import Message

from stylora_tui.config.wizard import WizardState
from stylora_tui.dataset.doctor import DoctorReport
from stylora_tui.run.layout import RunDir
from stylora_tui.run.state import RunState


class RunStateChanged(Message):
    def __init__(self, state: RunState, trainer_alive: bool) -> None:
        super().__init__()
        self.state = state
        self.trainer_alive = trainer_alive


class DatasetScanned(Message):
    def __init__(self, report: DoctorReport | None, error: str = "") -> None:
        super().__init__()
        self.report = report
        self.error = error


class ScanProgressed(Message):
    def __init__(self, done: int, total: int) -> None:
        super().__init__()
        self.done = done
        self.total = total


class WizardChanged(Message):
    """A step changed what the user chose (the whole state, as the step now holds it)."""

    def __init__(self, wizard: WizardState) -> None:
        super().__init__()
        self.wizard = wizard


class ReportChanged(Message):
    """The dataset was judged again (or forgotten: None); later steps read this report."""

    def __init__(self, report: DoctorReport | None) -> None:
        super().__init__()
        self.report = report


class StepRequested(Message):
    def __init__(self, step: str) -> None:
        super().__init__()
        self.step = step


class MonitorRequested(Message):
    """A run was launched (or chosen): show it."""

    def __init__(self, run: RunDir, launched_at: float | None = None) -> None:
        super().__init__()
        self.run = run
        self.launched_at = launched_at
