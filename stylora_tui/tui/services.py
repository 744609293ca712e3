"""What the TUI talks to, passed in through the app's constructor so tests can fake it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from stylora_tui.run.layout import RunDir


def _tokenizers(model_path: str | None):
    from stylora_tui.integrations.clip_tokenizer import load_for_model

    return load_for_model(model_path if model_path and model_path != "demo" else None)


def _launcher():
    from stylora_tui.launch.launcher import TrainerLauncher

    return TrainerLauncher()


def _machine():
    from stylora_tui.integrations.nvml import this_machine

    return this_machine()


def _fetch(ref, progress=None):
    from stylora_tui.integrations import hub

    return hub.fetch(ref, progress)


def _default_tagger() -> str:
    from stylora_tui.integrations.tagger import DEFAULT_TAGGER

    return DEFAULT_TAGGER


def _alive(run: RunDir) -> bool:
    from stylora_tui.run.lock import lock_holder

    return lock_holder(run)


def _tailer(run: RunDir):
    from stylora_tui.run.event_log import EventTailer

    return EventTailer(run.events)


@dataclass
class Services:
    runs_root: Path
    # (model path or None) -> (tokenizer, tokenizer_2), both TokenizerLike
    tokenizers: Callable = _tokenizers
    launcher: object = field(default_factory=_launcher)
    # RunDir -> an object with read_new() -> list[run.events.Event]
    run_source: Callable = _tailer
    # RunDir -> whether a trainer holds the run (its lock)
    alive: Callable = _alive
    # () -> integrations.machine.Machine: where a run will train (GPUs by NVML)
    machine: Callable = _machine
    # () -> seconds since the epoch: the monitor's running clock
    clock: Callable = time.time
    # (HubRef, progress(what, done, total)) -> local path: hub downloads (base models, the tagger)
    fetch: Callable = _fetch
    # the WD14 tagger the dataset step offers: a hub id or a local folder
    tagger: str = field(default_factory=_default_tagger)
