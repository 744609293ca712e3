"""The run's event log: append-only JSON lines, one writer (the trainer), many readers.

Each event is `{"v": 1, "ts": ..., "type": "train.step", ...}`. Readers tail the file from
a byte offset and never re-read what they have; a partial last line (the writer is
mid-append) is left for the next read. Nothing is ever rewritten in place.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

from stylora_tui.display import printable

EVENT_VERSION = 1

RUN_STARTED = "run.started"
RUN_RESUMED = "run.resumed"
CACHE_PROGRESS = "cache.progress"
TRAIN_STEP = "train.step"
STEP_SKIPPED = "train.skipped"
EPOCH_FINISHED = "epoch.finished"
CHECKPOINT_SAVED = "checkpoint.saved"
CHECKPOINT_FAILED = "checkpoint.failed"
OUTPUT_SAVED = "output.saved"
SAMPLE_PROGRESS = "sample.progress"
SAMPLE_SAVED = "sample.saved"
VALIDATION = "validation.loss"
CONTROL_RECEIVED = "control.received"
GPU_SAMPLE = "gpu.sample"
LOG = "log"
RUN_STOPPED = "run.stopped"
RUN_FINISHED = "run.finished"
RUN_FAILED = "run.failed"

FINAL_TYPES = frozenset({RUN_STOPPED, RUN_FINISHED, RUN_FAILED})
# Events whose loss a crash must not take: flushed to disk before the call returns.
DURABLE_TYPES = FINAL_TYPES | {RUN_STARTED, RUN_RESUMED, CHECKPOINT_SAVED, CHECKPOINT_FAILED, OUTPUT_SAVED}


class EventWriter:
    """Appends events; thread-safe so the GPU sampler thread can write too."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._handle = open(path, "ab", buffering=0)

    def emit(self, type_: str, **fields) -> dict:
        event = {"v": EVENT_VERSION, "ts": round(time.time(), 3), "type": type_, **fields}
        line = (json.dumps(event, separators=(",", ":"), allow_nan=False, default=str) + "\n").encode("utf-8")
        with self._lock:
            # One write() of the whole line: O_APPEND keeps it contiguous.
            self._handle.write(line)
            if type_ in DURABLE_TYPES:
                os.fsync(self._handle.fileno())
        return event

    def close(self) -> None:
        with self._lock:
            self._handle.close()


def _shown_safe(value):
    """Every string of an event with its terminal controls written out: events carry GPU
    names, file names and error text that every viewer shows."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {printable(k): _shown_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shown_safe(v) for v in value]
    return value


class EventTailer:
    """Reads new complete events from a byte offset."""

    def __init__(self, path: Path, offset: int = 0) -> None:
        self.path = path
        self.offset = offset

    def read_new(self, max_bytes: int = 8 << 20) -> list[dict]:
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
                event = json.loads(line)
            except ValueError:
                continue  # a damaged line (disk full mid-write) must not stop the view
            if isinstance(event, dict) and "type" in event:
                events.append(_shown_safe(event))
        return events

    def end_offset(self) -> int:
        """Where the log ends now: a view of a session started after this reads from here."""
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def read_all_new(self) -> list[dict]:
        events: list[dict] = []
        while True:
            batch = self.read_new()
            if not batch:
                return events
            events.extend(batch)
