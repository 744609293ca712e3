"""Textual messages: facts in the past tense, requests end in Requested."""

from __future__ import annotations

from textual.message import Message

from stylora_tui.run.state import RunState


class RunStateChanged(Message):
    def __init__(self, state: RunState, trainer_alive: bool) -> None:
        super().__init__()
        self.state = state
        self.trainer_alive = trainer_alive


class DatasetScanned(Message):
    def __init__(self, report, error: str = "") -> None:
        super().__init__()
        self.report = report
        self.error = error


class ScanProgressed(Message):
    def __init__(self, done: int, total: int) -> None:
        super().__init__()
        self.done = done
        self.total = total
