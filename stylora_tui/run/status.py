"""status.json: the trainer's small, atomically replaced summary of where the run is.

One writer (the trainer, rank 0); readers (`runs`, the monitor's resume offer, `compare`)
use `read_status`, which never fails: a missing or damaged file is an empty status. The
vocabulary of a run's state lives here, once: the trainer writes RUNNING, STALLED (its
watchdog saw no progress), STOPPED, FINISHED or FAILED; a reader that finds no live trainer
behind RUNNING or STALLED calls it CRASHED, and a run with no status yet is NEW. The phases a viewer shows live beside them.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, fields, replace

from stylora_tui.atomic import write_json_atomic

NEW, RUNNING, STOPPED, CRASHED, FINISHED, FAILED = "new", "running", "stopped", "crashed", "finished", "failed"
STALLED = "stalled"
WRITTEN_STATES = (RUNNING, STALLED, STOPPED, FINISHED, FAILED)
RESUMABLE = (STOPPED, CRASHED)

# What a viewer sees the run doing, from its events (run.state): waiting for the trainer to
# start, caching latents, training, rendering previews, stopping; then how it ended, in the
# words the status uses.
WAITING, CACHING, TRAINING, SAMPLING, STOPPING = "waiting", "caching", "training", "sampling", "stopping"
PHASES = (WAITING, CACHING, TRAINING, SAMPLING, STOPPING, STALLED, STOPPED, FINISHED, FAILED)


@dataclass(frozen=True)
class Status:
    state: str = ""  # "" = no status written yet (a NEW run)
    pid: int | None = None
    step: int = 0
    total_steps: int = 0
    epoch: int = 0
    reason: str = ""
    hint: str = ""
    checkpoint_error: str = ""  # the last checkpoint that could not be written, while it stands
    # The meter: wall-clock time of every session so far, the time left, what an hour costs.
    elapsed_s: float = 0.0
    eta_s: float | None = None
    price_per_hour: float | None = None
    updated: float = field(default_factory=time.time)

    def to_json(self) -> dict:
        return asdict(self)


_TYPES = {f.name: f.type for f in fields(Status)}


def _valid(name: str, value) -> bool:
    kind = _TYPES[name]
    if kind == "str":
        return isinstance(value, str)
    if kind == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "int | None":
        return value is None or (isinstance(value, int) and not isinstance(value, bool))
    if kind == "float | None":
        return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))
    return isinstance(value, int) and not isinstance(value, bool)


def parse_status(data) -> Status:
    """A Status from JSON data; fields of the wrong type (a hand-edited file) are dropped."""
    if not isinstance(data, dict):
        return Status(updated=0.0)
    known = {k: v for k, v in data.items() if k in _TYPES and _valid(k, v)}
    return Status(**{"updated": 0.0, **known})


def read_status(path) -> Status:
    try:
        return parse_status(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, RecursionError):
        return Status(updated=0.0)


class StatusWriter:
    """The trainer's status.json: every change in memory, written at most every few seconds
    unless forced (a state change, a checkpoint), always atomically."""

    EVERY_S = 5.0

    def __init__(self, path, status: Status) -> None:
        self.path, self.status = path, status
        self.written = 0.0

    def update(self, force: bool = False, **changes) -> Status:
        self.status = replace(self.status, **changes, updated=time.time())
        if force or time.time() - self.written >= self.EVERY_S:
            write_json_atomic(self.path, self.status.to_json())
            self.written = time.time()
        return self.status
