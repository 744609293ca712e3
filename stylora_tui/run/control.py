"""Control intents from the TUI and the CLI to the trainer: files in `control/`.

A front end writes `control/<intent>`; the trainer polls at each step and removes the
file when it has honoured it. Files, not signals, so a request survives until the
trainer is there to read it, and any number of viewers can make one.
"""

from __future__ import annotations

import time

from stylora_tui.atomic import write_text_atomic
from stylora_tui.run.layout import RunDir

STOP, SAVE_NOW, SAMPLE_NOW = "stop", "save-now", "sample-now"
KEEP_MACHINE = "keep-machine"  # cancels the countdown to stopping the rented machine
INTENTS = (STOP, SAVE_NOW, SAMPLE_NOW, KEEP_MACHINE)


def request(run: RunDir, intent: str) -> None:
    if intent not in INTENTS:
        raise ValueError(f"unknown intent {intent!r}")
    run.control.mkdir(parents=True, exist_ok=True)
    write_text_atomic(run.control / intent, f"{time.time():.3f}\n")


def pending(run: RunDir) -> set[str]:
    if not run.control.is_dir():
        return set()
    return {p.name for p in run.control.iterdir() if p.name in INTENTS}


def consume(run: RunDir, intent: str) -> None:
    (run.control / intent).unlink(missing_ok=True)


def clear(run: RunDir) -> None:
    """Drop every pending intent to the trainer: a restarted trainer starts clean (a stop that
    was honoured, or asked of a trainer that died before it could honour it, must not stop it
    again). A request to keep the machine stays: it is the user's word about the machine, not
    about one trainer, and a resumed run's end must honour it."""
    for intent in pending(run) - {KEEP_MACHINE}:
        consume(run, intent)
