"""Resuming a run: refuse when its inputs changed, then restart the trainer, clean.

The use-case behind `stylora-tui --resume` (headless) and the monitor's resume offer alike.
"""

from __future__ import annotations

from pathlib import Path

from stylora_tui.dataset.scan import scan_dataset
from stylora_tui.errors import RunError
from stylora_tui.launch.launcher import Launched, TrainerLauncher
from stylora_tui.launch.prepare import frozen_config
from stylora_tui.model.hashes import model_hash
from stylora_tui.run import control
from stylora_tui.run.layout import RunDir
from stylora_tui.run.manifest import drift, read_manifest


def check_unchanged(run: RunDir) -> None:
    """Refuse, with the reasons, when the dataset or base model changed since launch."""
    config = frozen_config(run)
    manifest = read_manifest(run)
    scan = scan_dataset(Path(config.dataset.path), config.dataset.caption_extension, config.dataset.repeats)
    reasons = drift(manifest, scan, model_hash(config.model.path))
    if reasons:
        raise RunError(
            f"run {run.name!r} cannot resume: " + "; ".join(reasons),
            "put the dataset and model back as they were, or start a new run with the changed data",
        )


def restart(run: RunDir, launcher=None) -> Launched:
    """Start a trainer on a stopped, crashed or failed run; it continues from the newest
    complete checkpoint. `launcher` is anything with `launch(run, processes)`."""
    check_unchanged(run)
    # A resume starts clean: a stop the last trainer honoured, or never lived to honour,
    # must not stop this one.
    control.clear(run)
    return (launcher or TrainerLauncher()).launch(run, frozen_config(run).training.gpus)
