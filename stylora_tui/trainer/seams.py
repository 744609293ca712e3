"""The trainer's two seams with the outside world, passed into the loop (the way OneTrainer
hands its trainer callbacks and commands): intents come in (stop, save now, sample now:
control files any viewer writes, or a signal), state goes out (events and status.json).
The loop reads no control file and writes no status itself; tests pass their own.
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass

from stylora_tui.run import control
from stylora_tui.run import events as ev
from stylora_tui.run.event_log import EventWriter
from stylora_tui.run.layout import RunDir
from stylora_tui.run.status import StatusWriter


@dataclass
class Signals:
    """A SIGTERM/SIGHUP/SIGINT arrived: save and stop at the next step boundary."""

    received: str = ""

    def install(self) -> None:
        def handler(signum, _frame):
            self.received = signal.Signals(signum).name

        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(sig, handler)


class Intents:
    """What the user asked for. Only rank 0 reads them (`active`); the loop makes every
    process agree before acting."""

    def __init__(self, run: RunDir, signals: Signals, active: bool = True) -> None:
        self.run, self.signals, self.active = run, signals, active

    def stop_reason(self) -> str:
        """Why to stop now ('' = keep going): a signal, or a stop file from a viewer."""
        if not self.active:
            return ""
        if self.signals.received:
            return f"{self.signals.received} received"
        return "stop requested" if control.STOP in control.pending(self.run) else ""

    def wanted(self) -> set[str]:
        return control.pending(self.run) & {control.SAVE_NOW, control.SAMPLE_NOW} if self.active else set()

    def consume(self, intent: str) -> None:
        """An intent is consumed when it is honoured, wherever that is."""
        if self.active:
            control.consume(self.run, intent)


class Reporter:
    """Events and status out. Rank 0 reports; the other ranks of a several-GPU run get a
    quiet one (`events`/`status` None)."""

    def __init__(self, events: EventWriter | None, status: StatusWriter | None) -> None:
        self.events, self.status_writer = events, status
        self.final: ev.Event | None = None  # how the run ended, once it has (for the notification)
        self.train_s = 0.0  # training time so far, every session of the run together
        self.suggested: ev.AdapterSuggested | None = None  # the latest suggestion (for the notification)
        self.listeners: list = []  # called with each event after it is written (the mirror)
        # Wall-clock time of the sessions before this one, and when this one started: every
        # status carries the run's elapsed time, which the meter bills.
        self.earlier_s = 0.0
        self.started = time.time()

    def emit(self, event: ev.Event) -> None:
        """Thread-safe: the GPU telemetry thread reports through here too."""
        if isinstance(event, (ev.TrainStep, ev.RunFinished)) and event.train_s is not None:
            self.train_s = event.train_s
        if isinstance(event, ev.FINAL):
            self.final = event
        if isinstance(event, ev.AdapterSuggested):
            self.suggested = event
        if self.events is not None:
            self.events.write(event)
        for listener in self.listeners:
            listener(event)

    def status(self, force: bool = False, **changes) -> None:
        if self.status_writer is not None:
            changes.setdefault("elapsed_s", round(self.earlier_s + time.time() - self.started, 1))
            self.status_writer.update(force=force, **changes)

    @property
    def current(self):
        return self.status_writer.status if self.status_writer is not None else None
