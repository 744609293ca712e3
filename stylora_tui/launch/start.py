"""Starting a run: everything checked and the run folder created (`prepare_run`), then the
trainer launched in its own session. The wizard, `train` and the headless demo start runs
this one way."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stylora_tui.config.schema import Config
from stylora_tui.integrations.machine import Machine
from stylora_tui.launch.launcher import Launched, TrainerLauncher
from stylora_tui.launch.prepare import PreparedRun, prepare_run


@dataclass(frozen=True)
class Started:
    prepared: PreparedRun
    launched: Launched


def start_run(
    config: Config, root: Path, name: str | None, tokenizer, *, machine: Machine, allow_cpu: bool = False, launcher=None
) -> Started:
    """`launcher` is anything with `launch(run, processes) -> Launched` (tests record)."""
    prepared = prepare_run(config, root, name, tokenizer, machine=machine, allow_cpu=allow_cpu)
    launched = (launcher or TrainerLauncher()).launch(prepared.run, prepared.config.training.gpus)
    return Started(prepared, launched)
