"""A run's samples and validation losses, by epoch, and the chosen epoch.

Pure (Pillow only): `compare` and the TUI read what the trainer wrote into samples/ and
events.jsonl.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from stylora_tui.atomic import replace_with, write_json_atomic
from stylora_tui.errors import RunError, StyloraError
from stylora_tui.model.files import read_header
from stylora_tui.run.event_log import read_events
from stylora_tui.run.events import ValidationLoss
from stylora_tui.run.layout import RunDir
from stylora_tui.run.status import FINISHED, read_status

BEST_FILE = "best.json"  # which epoch the user chose, beside the -best copy


@dataclass(frozen=True)
class EpochSamples:
    label: str  # e0010; e0010-at-0.6 at another strength; s000123 for a sample-now
    epoch: int
    step: int
    prompts: tuple[str, ...]
    images: tuple[Path, ...]
    validation_loss: float | None
    strength: float = 1.0
    kinds: tuple[str, ...] = ()  # per prompt, as config/sampling.py names them

    @property
    def saved_epoch(self) -> bool:
        """Rendered from an epoch's saved adapter (not a sample-now of the live network)."""
        return self.label.startswith("e")


def validation_losses(run: RunDir) -> dict[int, float]:
    return {e.epoch: e.loss for e in read_events(run.events) if isinstance(e, ValidationLoss)}


def epoch_samples(run: RunDir) -> list[EpochSamples]:
    losses = validation_losses(run)
    found = []
    for folder in sorted(run.samples.glob("*/prompts.json")):
        try:
            info = json.loads(folder.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        try:
            names, prompts, kinds = list(info["images"]), list(info["prompts"]), list(info.get("kinds", []))
            epoch, step, strength = int(info.get("epoch", 0)), int(info.get("step", 0)), float(info.get("strength", 1.0))
        except (KeyError, TypeError, ValueError):
            continue
        # An image the user deleted drops out with its prompt and kind, so they stay aligned.
        kept = [i for i, name in enumerate(names) if (folder.parent / str(name)).is_file()]
        label = folder.parent.name
        found.append(
            EpochSamples(
                label,
                epoch,
                step,
                tuple(str(prompts[i]) for i in kept if i < len(prompts)),
                tuple(folder.parent / str(names[i]) for i in kept),
                losses.get(epoch) if label.startswith("e") else None,
                strength,
                tuple(str(kinds[i]) for i in kept if i < len(kinds)),
            )
        )
    return sorted(found, key=lambda s: (s.step, -s.strength, s.label))


def output_for_epoch(run: RunDir, epoch: int) -> Path:
    numbered = run.output / f"{run.name}-e{epoch:04d}.safetensors"
    if numbered.is_file():
        return numbered
    if epoch in _final_epochs(run):
        return run.output / f"{run.name}.safetensors"
    epochs = saved_epochs(run)
    saved = f"epochs with an adapter: {', '.join(map(str, epochs))}" if epochs else "no epoch's adapter is saved yet"
    raise RunError(f"run {run.name!r} has no adapter saved at epoch {epoch}", saved)


def saved_epochs(run: RunDir) -> list[int]:
    """The epochs `output_for_epoch` finds an adapter for (not the chosen copy, -best)."""
    numbered = re.compile(re.escape(run.name) + r"-e([0-9]+)\.safetensors")
    epochs = {int(m.group(1)) for name in run.outputs() if (m := numbered.fullmatch(name))}
    return sorted(epochs | _final_epochs(run))


def _final_epochs(run: RunDir) -> set[int]:
    """The epochs the final adapter stands for: the finished run's last, and the one its
    metadata names (it is written, and judged, before the run is finished)."""
    final = run.output / f"{run.name}.safetensors"
    if not final.is_file():
        return set()
    status = read_status(run.status_file)
    return {e for e in (status.epoch if status.state == FINISHED else None, _saved_at(final)) if e}


def _saved_at(adapter: Path) -> int | None:
    """The epoch an adapter's metadata says it was saved at (the final adapter is written
    before the run is finished, and is judged then)."""
    try:
        return int(read_header(adapter).get("__metadata__", {}).get("ss_epoch", ""))
    except (StyloraError, OSError, ValueError, TypeError, AttributeError):
        return None


def choose_best(run: RunDir, epoch: int, strength: float = 1.0) -> Path:
    """Copy the chosen epoch's adapter to output/<run>-best.safetensors (atomically); the
    strength to use it at is recorded beside it."""
    source = output_for_epoch(run, epoch)
    target = run.output / f"{run.name}-best.safetensors"
    replace_with(target, lambda tmp: shutil.copyfile(source, tmp))
    write_json_atomic(run.output / BEST_FILE, {"epoch": epoch, "source": source.name, "strength": strength})
    return target


def chosen_epoch(run: RunDir) -> tuple[int, str] | None:
    """(epoch, adapter file) chosen with `compare --best` or the monitor's epochs view; None
    when none was, or the record is damaged."""
    try:
        data = json.loads((run.output / BEST_FILE).read_text(encoding="utf-8"))
        return int(data["epoch"]), str(data["source"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
