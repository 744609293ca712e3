"""The event log on disk: the wire format (`encode`, `decode`) and its one writer and many
readers. A damaged line, one of an unknown type or one missing a field its type needs is
skipped by every reader, never raised; readers tail from a byte offset and leave a partial
last line (the writer is mid-append) for the next read.
"""

from __future__ import annotations

import json
import os
import threading
import time
import types
import typing
from dataclasses import MISSING, asdict, fields, replace
from pathlib import Path

from stylora_tui.display import printable
from stylora_tui.run.events import DURABLE, EVENT_TYPES, EVENT_VERSION, Event

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
