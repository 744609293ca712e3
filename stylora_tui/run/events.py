"""The run's event log: append-only JSON lines, one writer (the trainer), many readers.

In code each event is a frozen dataclass, one class per type (`TrainStep`, `OutputSaved`,
...): the trainer writes instances, every reader gets instances back, and the reducer
dispatches on the class. The JSON line, `{"v": 1, "ts": ..., "type": "train.step", ...}`, is
only the wire format, made and read in one place (`encode`, `decode`). A line that is
damaged, of an unknown type or missing a field its type needs is skipped by every reader,
never raised: a disk that filled mid-write must not take a view down.

Readers tail the file from a byte offset and never re-read what they have; a partial last
line (the writer is mid-append) is left for the next read. Nothing is rewritten in place.
"""

from __future__ import annotations

import json
import os
import threading
import time
import types
import typing
from dataclasses import MISSING, asdict, dataclass, fields, replace
from pathlib import Path
from typing import ClassVar

from stylora_tui.display import printable

EVENT_VERSION = 1


@dataclass(frozen=True, kw_only=True)
class Event:
    TYPE: ClassVar[str] = ""
    # Stamped by the writer when the event is written; read back from the line.
    ts: float | None = None


@dataclass(frozen=True, kw_only=True)
class RunStarted(Event):
    TYPE: ClassVar[str] = "run.started"
    run: str = ""
    step: int = 0
    epoch: int = 0
    total_steps: int = 0
    epochs: int = 0
    steps_per_epoch: int = 0
    images: int = 0
    device: str = ""
    mixed_precision: str = ""
    modules: int = 0
    trainable_params: int = 0
    gpus: int = 1
    checkpoint: str | None = None  # the checkpoint a resumed session starts from
    prediction: str = ""
    zero_terminal_snr: bool = False
    random_crop: bool = False
    gradient_checkpointing: bool = False


@dataclass(frozen=True, kw_only=True)
class RunResumed(RunStarted):
    TYPE: ClassVar[str] = "run.resumed"


@dataclass(frozen=True, kw_only=True)
class CacheProgress(Event):
    TYPE: ClassVar[str] = "cache.progress"
    done: int
    total: int


@dataclass(frozen=True, kw_only=True)
class TrainStep(Event):
    TYPE: ClassVar[str] = "train.step"
    step: int
    epoch: int = 0
    total_steps: int = 0
    loss: float | None = None
    lr: float | None = None
    it_per_s: float | None = None
    images_per_s: float | None = None
    memory_mib: float | None = None
    train_s: float | None = None  # training time so far, every session of the run together


@dataclass(frozen=True, kw_only=True)
class StepSkipped(Event):
    TYPE: ClassVar[str] = "train.skipped"
    step: int
    epoch: int = 0
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class EpochFinished(Event):
    TYPE: ClassVar[str] = "epoch.finished"
    epoch: int
    step: int = 0


@dataclass(frozen=True, kw_only=True)
class CheckpointSaved(Event):
    TYPE: ClassVar[str] = "checkpoint.saved"
    step: int
    epoch: int = 0
    path: str


@dataclass(frozen=True, kw_only=True)
class CheckpointFailed(Event):
    TYPE: ClassVar[str] = "checkpoint.failed"
    step: int
    epoch: int = 0
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class OutputSaved(Event):
    TYPE: ClassVar[str] = "output.saved"
    epoch: int = 0
    step: int = 0
    path: str
    modules: int = 0
    bytes: int = 0


@dataclass(frozen=True, kw_only=True)
class SampleProgress(Event):
    TYPE: ClassVar[str] = "sample.progress"
    label: str = ""
    epoch: int = 0
    step: int = 0
    done: int
    total: int


@dataclass(frozen=True, kw_only=True)
class SampleSaved(Event):
    TYPE: ClassVar[str] = "sample.saved"
    epoch: int = 0
    step: int = 0
    path: str
    images: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ValidationLoss(Event):
    TYPE: ClassVar[str] = "validation.loss"
    epoch: int
    step: int = 0
    loss: float
    images: int = 0


@dataclass(frozen=True, kw_only=True)
class EpochJudged(Event):
    """A preview set judged: its style score against the training set (None with the reason
    when there is none) and the training images its previews copy."""

    TYPE: ClassVar[str] = "epoch.judged"
    epoch: int
    label: str = ""
    strength: float = 1.0
    style_score: float | None = None
    style_unavailable: str | None = None
    copies: tuple[dict, ...] = ()  # {"sample", "training_image", "similarity"}


@dataclass(frozen=True, kw_only=True)
class AdapterSuggested(Event):
    """The epoch and strength to use, and why in one line (choose/suggest.py)."""

    TYPE: ClassVar[str] = "adapter.suggested"
    epoch: int
    strength: float = 1.0
    adapter: str = ""
    why: str = ""


@dataclass(frozen=True, kw_only=True)
class MirrorSynced(Event):
    """The mirror holds the run as it stood when the send began."""

    TYPE: ClassVar[str] = "mirror.synced"
    destination: str
    seconds: float = 0.0


@dataclass(frozen=True, kw_only=True)
class MirrorFailed(Event):
    TYPE: ClassVar[str] = "mirror.failed"
    destination: str
    reason: str
    retry_in_s: float | None = None


@dataclass(frozen=True, kw_only=True)
class RentalCountdown(Event):
    """The machine will be stopped (or terminated) in `seconds` unless cancelled."""

    TYPE: ClassVar[str] = "rental.countdown"
    action: str
    seconds: int
    provider: str = ""


@dataclass(frozen=True, kw_only=True)
class RentalAction(Event):
    """What was done about the machine, or why nothing was: `outcome` is done, cancelled,
    failed or skipped."""

    TYPE: ClassVar[str] = "rental.action"
    action: str
    outcome: str
    command: str = ""
    output: str = ""


@dataclass(frozen=True, kw_only=True)
class ControlReceived(Event):
    TYPE: ClassVar[str] = "control.received"
    intent: str
    step: int = 0
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class GpuSample(Event):
    TYPE: ClassVar[str] = "gpu.sample"
    gpus: tuple[dict, ...] = ()  # one NVML reading per GPU (integrations.nvml.GpuReading.to_json)
    error: str = ""


@dataclass(frozen=True, kw_only=True)
class Log(Event):
    TYPE: ClassVar[str] = "log"
    message: str


@dataclass(frozen=True, kw_only=True)
class RunStopped(Event):
    TYPE: ClassVar[str] = "run.stopped"
    step: int = 0
    epoch: int = 0
    reason: str = ""
    checkpoint: str | None = None  # where a resume continues; None: nothing new was saved


@dataclass(frozen=True, kw_only=True)
class RunFinished(Event):
    TYPE: ClassVar[str] = "run.finished"
    step: int = 0
    epoch: int = 0
    output: str
    train_s: float | None = None


@dataclass(frozen=True, kw_only=True)
class RunFailed(Event):
    TYPE: ClassVar[str] = "run.failed"
    reason: str
    hint: str = ""


EVENT_TYPES: dict[str, type[Event]] = {
    cls.TYPE: cls
    for cls in (
        RunStarted,
        RunResumed,
        CacheProgress,
        TrainStep,
        StepSkipped,
        EpochFinished,
        CheckpointSaved,
        CheckpointFailed,
        OutputSaved,
        SampleProgress,
        SampleSaved,
        ValidationLoss,
        EpochJudged,
        AdapterSuggested,
        MirrorSynced,
        MirrorFailed,
        RentalCountdown,
        RentalAction,
        ControlReceived,
        GpuSample,
        Log,
        RunStopped,
        RunFinished,
        RunFailed,
    )
}
FINAL = (RunStopped, RunFinished, RunFailed)
# Events whose loss a crash must not take: flushed to disk before the write returns.
DURABLE = (*FINAL, RunStarted, CheckpointSaved, CheckpointFailed, OutputSaved)


# ---------------------------------------------------------------- the wire format


def encode(event: Event) -> bytes:
    data = {"v": EVENT_VERSION, "ts": event.ts, "type": event.TYPE}
    data.update((k, v) for k, v in asdict(event).items() if k != "ts")
    return (json.dumps(data, separators=(",", ":"), allow_nan=False, default=str) + "\n").encode("utf-8")


def decode(data: object) -> Event | None:
    """The event a JSON object stands for; None when it is not one (unknown type, a field
    its type needs missing or of the wrong kind). Fields of the wrong kind that have a
    default take it; strings come back with terminal controls written out, since every
    viewer shows them (GPU names, file names, error text)."""
    if not isinstance(data, dict):
        return None
    kind = data.get("type")
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        return None
    values = {}
    for name, hint, required in _SCHEMA[cls]:
        value = _coerce(data.get(name, MISSING), hint)
        if value is not MISSING:
            values[name] = value
        elif required:
            return None
    return cls(**values)


def _schema(cls: type[Event]) -> list[tuple[str, object, bool]]:
    """(field, type, required) of an event class, resolved once."""
    hints = typing.get_type_hints(cls)
    return [(f.name, hints[f.name], f.default is MISSING and f.default_factory is MISSING) for f in fields(cls)]


_SCHEMA = {cls: _schema(cls) for cls in EVENT_TYPES.values()}


def _coerce(value, hint):
    """`value` as `hint` asks, or MISSING."""
    if value is MISSING:
        return MISSING
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    for option in options:
        if option is type(None) and value is None:
            return None
        if option is bool and isinstance(value, bool):
            return value
        if option is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if option is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if option is str and isinstance(value, str):
            return printable(value)
        if typing.get_origin(option) is tuple and isinstance(value, list):
            item = typing.get_args(option)[0]
            if item is str and all(isinstance(v, str) for v in value):
                return tuple(printable(v) for v in value)
            if item is dict and all(isinstance(v, dict) for v in value):
                return tuple(_printable_strings(v) for v in value)
    return MISSING


def _printable_strings(value):
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {printable(k): _printable_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_printable_strings(v) for v in value]
    return value


# ---------------------------------------------------------------- writing and reading


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


class EventWriter:
    """Appends events; thread-safe so the GPU sampler thread can write too."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        # Open for the trainer's whole life: one append per event, no reopen per line.
        self._handle = open(path, "ab", buffering=0)  # noqa: SIM115
        # A line cut short (a killed trainer, a mirror copied mid-append) stays one damaged
        # line: the next event starts on a line of its own.
        if self._handle.tell() and not _ends_with_newline(path):
            self._handle.write(b"\n")

    def write(self, event: Event) -> Event:
        """`event`, stamped with the time, appended; returned as written."""
        event = replace(event, ts=round(time.time(), 3))
        line = encode(event)
        with self._lock:
            # One write() of the whole line: O_APPEND keeps it contiguous.
            self._handle.write(line)
            if isinstance(event, DURABLE):
                os.fsync(self._handle.fileno())
        return event

    def close(self) -> None:
        with self._lock:
            self._handle.close()


class EventTailer:
    """Reads new complete events from a byte offset."""

    def __init__(self, path: Path, offset: int = 0) -> None:
        self.path = path
        self.offset = offset

    def read_new(self, max_bytes: int = 8 << 20) -> list[Event]:
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                chunk = handle.read(max_bytes)
        except FileNotFoundError:
            return []
        end = chunk.rfind(b"\n")
        if end < 0:
            return []
        complete = chunk[: end + 1]
        self.offset += len(complete)
        events = []
        for line in complete.splitlines():
            try:
                event = decode(json.loads(line))
            except (ValueError, RecursionError):
                continue
            if event is not None:
                events.append(event)
        return events

    def end_offset(self) -> int:
        """Where the log ends now: a view of a session started after this reads from here."""
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def read_all_new(self) -> list[Event]:
        events: list[Event] = []
        while True:
            batch = self.read_new()
            if not batch:
                return events
            events.extend(batch)


def read_events(path: Path) -> list[Event]:
    """Every event of a log, from its start."""
    return EventTailer(path).read_all_new()
