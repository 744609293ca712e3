"""Run directories: names and layout, the contract between the trainer and every reader.

One writer per file (DESIGN.md): `config.toml` frozen at launch, `events.jsonl` appended by
the trainer, `status.json` replaced atomically (run/status.py), intents in `control/`,
checkpoints complete before anything older is pruned, deliverables in `output/`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from stylora_tui.errors import RunError

RUNS_DIR_ENV = "STYLORA_RUNS_DIR"
RUN_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$")
DEFAULT_NAME = re.compile(r"^run-(\d+)$")


def runs_root(cli_value: str | os.PathLike | None = None) -> Path:
    """Where new runs go: --runs-dir, else $STYLORA_RUNS_DIR, else ./runs."""
    value = cli_value or os.environ.get(RUNS_DIR_ENV) or "runs"
    return Path(value).expanduser().absolute()


def validate_run_name(name: str) -> str:
    if not RUN_NAME.fullmatch(name or ""):
        raise RunError(
            f"run name {name!r} is not allowed",
            "use letters, digits, '-', '_' and '.' (not first), e.g. run-03 or hokusai_v2",
        )
    return name


@dataclass(frozen=True)
class RunDir:
    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    config = property(lambda self: self.path / "config.toml")
    dataset_manifest = property(lambda self: self.path / "dataset.json")
    events = property(lambda self: self.path / "events.jsonl")
    status_file = property(lambda self: self.path / "status.json")
    lock = property(lambda self: self.path / "lock")
    control = property(lambda self: self.path / "control")
    checkpoints = property(lambda self: self.path / "checkpoints")
    output = property(lambda self: self.path / "output")
    samples = property(lambda self: self.path / "samples")
    logs = property(lambda self: self.path / "logs")
    trainer_log = property(lambda self: self.path / "logs" / "trainer.log")

    def outputs(self) -> list[str]:
        if not self.output.is_dir():
            return []
        return sorted(p.name for p in self.output.glob("*.safetensors"))


def run_path(root: Path, name: str) -> RunDir:
    """The run named `name` under `root`, refusing anything that resolves outside it."""
    validate_run_name(name)
    root_resolved = root.resolve()
    candidate = (root / name).resolve()
    if candidate.parent != root_resolved:
        raise RunError(
            f"run {name!r} resolves outside the runs root {root_resolved} (a symbolic link?)",
            "remove the link, or pass --runs-dir pointing at the folder that holds the run",
        )
    return RunDir(root / name)


def next_run_name(root: Path) -> str:
    numbers = [int(m.group(1)) for p in run_dirs(root) if (m := DEFAULT_NAME.match(p.name))]
    return f"run-{(max(numbers, default=0) + 1):02d}"


def run_dirs(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and RUN_NAME.fullmatch(p.name))
