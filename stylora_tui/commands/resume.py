"""`stylora-tui --resume RUN`: attach to a live run, restart a stopped one, or summarise."""

from __future__ import annotations

from pathlib import Path

from stylora_tui.dataset.scan import scan_dataset
from stylora_tui.display import printable
from stylora_tui.errors import RunError
from stylora_tui.model.hashes import model_hash
from stylora_tui.run import control
from stylora_tui.run.events import EventTailer
from stylora_tui.run.launcher import TrainerLauncher
from stylora_tui.run.layout import FAILED, FINISHED, NEW, RUNNING, RunDir, locate_run, run_status
from stylora_tui.run.manifest import drift, read_manifest
from stylora_tui.run.prepare import frozen_config
from stylora_tui.views.console import console, safe
from stylora_tui.views.headless import follow


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


def restart(run: RunDir, launcher: TrainerLauncher | None = None):
    check_unchanged(run)
    # A resume starts clean: a stop the last trainer honoured, or never lived to honour,
    # must not stop this one.
    control.clear(run)
    return (launcher or TrainerLauncher()).launch(run, frozen_config(run).training.gpus)


def run(args) -> int:
    target = locate_run(args.resume, args.runs_dir)
    summary = run_status(target)
    out = console()
    if summary.status == FINISHED:
        out.print(f"[green]{target.name} finished[/] at step {summary.step}; outputs in {safe(target.output)}:")
        for name in summary.outputs:
            out.print(f"  {printable(name)}", markup=False)
        return 0
    if summary.status == RUNNING:
        out.print(f"attaching to {target.name} (pid {summary.pid}); Ctrl-C stops it cleanly, twice detaches")
    else:
        if not target.config.is_file():
            raise RunError(f"run {target.name!r} was never configured", "start a new run with `stylora-tui` or `stylora-tui train`")
        why = {NEW: "never started", FAILED: f"failed ({safe(summary.reason)})"}.get(summary.status, summary.status)
        session_from = EventTailer(target.events).end_offset()
        launched = restart(target)
        out.print(f"resuming {target.name} ({why}) from its last complete checkpoint (pid {launched.pid})")
        state = follow(target, session_from=session_from)
        return 1 if state.phase == "failed" else 0
    state = follow(target)
    return 1 if state.phase == "failed" else 0
