"""A run's status as every view agrees on it: the trainer's status.json read against its
lock (a RUNNING file with no live trainer is CRASHED), plus what is on disk (outputs, the
newest complete checkpoint)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from stylora_tui.run.layout import RunDir, run_dirs
from stylora_tui.run.lock import lock_holder
from stylora_tui.run.mirror_state import MirrorState, read_mirror_state
from stylora_tui.run.status import CRASHED, FAILED, FINISHED, NEW, RUNNING, STALLED, STOPPED, Status, read_status
from stylora_tui.run.suggestion import Suggestion, read_suggestion


@dataclass(frozen=True)
class RunSummary:
    name: str
    status: str
    step: int
    total_steps: int
    pid: int | None
    outputs: tuple[str, ...]
    reason: str = ""
    checkpoint_step: int | None = None  # the newest complete checkpoint: where a resume starts
    checkpoint_error: str = ""  # the last checkpoint that could not be written, while it stands
    root: str = ""
    suggested: Suggestion | None = None  # the adapter choose/suggest.py suggests, when judged
    mirror: MirrorState | None = None  # what the mirror last did, when one is set
    elapsed_s: float = 0.0  # wall-clock time of every session so far
    eta_s: float | None = None
    price_per_hour: float | None = None

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "status": self.status,
            "step": self.step,
            "total_steps": self.total_steps,
            "pid": self.pid,
            "outputs": list(self.outputs),
            "reason": self.reason,
            "checkpoint_step": self.checkpoint_step,
            "checkpoint_error": self.checkpoint_error,
            "root": self.root,
            "suggested": None
            if self.suggested is None
            else {
                "epoch": self.suggested.epoch,
                "strength": self.suggested.strength,
                "adapter": self.suggested.adapter,
                "why": self.suggested.why,
            },
            "mirror": None
            if self.mirror is None
            else {
                "to": self.mirror.destination,
                "last_ok_ts": self.mirror.last_ok_ts,
                "error": self.mirror.error,
                "retry_in_s": self.mirror.retry_in_s,
            },
            "elapsed_s": self.elapsed_s,
        }


def run_status(run: RunDir) -> RunSummary:
    data = read_status(run.status_file)
    state = data.state
    running = lock_holder(run)
    if running:
        status = STALLED if state == STALLED else RUNNING
    elif state in (FINISHED, FAILED, STOPPED):
        status = state
    elif not state:
        status = NEW
    else:
        # The file says it was running, but nobody holds the lock: the process died
        # without writing its final state (kill -9, OOM killer, a reclaimed machine).
        status = CRASHED
    pid = _live_pid(run, data) if running else None
    return RunSummary(
        name=run.name,
        status=status,
        step=data.step,
        total_steps=data.total_steps,
        pid=pid,
        outputs=tuple(run.outputs()),
        reason=data.reason,
        checkpoint_step=newest_checkpoint_step(run),
        checkpoint_error=data.checkpoint_error,
        root=str(run.path.parent),
        suggested=read_suggestion(run),
        mirror=read_mirror_state(run),
        elapsed_s=data.elapsed_s,
        eta_s=data.eta_s if status == RUNNING else None,
        price_per_hour=data.price_per_hour,
    )


CHECKPOINT_NAME = re.compile(r"^step-(\d{6,})$")


def newest_checkpoint_step(run: RunDir) -> int | None:
    """The step of the newest complete checkpoint (its COMPLETE marker written last)."""
    try:
        entries = list(run.checkpoints.iterdir())
    except OSError:
        return None
    steps = [int(m.group(1)) for p in entries if (m := CHECKPOINT_NAME.match(p.name)) and (p / "COMPLETE").is_file()]
    return max(steps, default=None)


def _live_pid(run: RunDir, status: Status) -> int | None:
    if status.pid is not None:
        return status.pid
    # A trainer that is still starting has written its pid into the lock but no status yet.
    try:
        return int(run.lock.read_text().strip())
    except (OSError, ValueError):
        return None


def list_runs(root: Path) -> list[RunSummary]:
    return [run_status(RunDir(p)) for p in run_dirs(root)]
