"""`stylora-tui train ...`: the run without the wizard."""

from __future__ import annotations

import time

from stylora_tui.config.build import parse_override
from stylora_tui.config.presets import preset_for
from stylora_tui.run.invocation import check_command, resume_command
from stylora_tui.run.launcher import TrainerLauncher
from stylora_tui.run.layout import runs_root
from stylora_tui.run.prepare import prepare_run
from stylora_tui.run.status import FAILED
from stylora_tui.views.console import console, safe
from stylora_tui.views.headless import follow


def _merge(target: dict, layer: dict) -> None:
    for section, values in layer.items():
        target.setdefault(section, {}).update(values)


def edits_from_args(args) -> dict:
    edits: dict = {}
    simple = {
        ("model", "path"): args.model,
        ("dataset", "path"): args.dataset,
        ("captions", "trigger"): args.trigger,
        ("training", "epochs"): args.epochs,
        ("dataset", "repeats"): args.repeats,
        ("training", "batch_size"): args.batch_size,
        ("training", "max_steps"): args.max_steps,
        ("saving", "every_n_epochs"): args.save_every,
        ("training", "seed"): args.seed,
    }
    for (section, key), value in simple.items():
        if value is not None:
            _merge(edits, {section: {key: value}})
    if args.resolution:
        sides = [int(s) for s in args.resolution.lower().replace(",", "x").split("x")]
        _merge(edits, {"dataset": {"resolution_px": sides if len(sides) == 2 else sides[0]}})
    for assignment in args.set or []:
        _merge(edits, parse_override(assignment))
    return edits


def resolve_model_option(args) -> None:
    """--model as a hub id, a hub address or a known base: downloaded (or found from an
    earlier download) and replaced by its local path. Without --family, the family is the
    known base's, else what the name says."""
    from stylora_tui.config.families import detect_family
    from stylora_tui.integrations import hub
    from stylora_tui.views import download

    ref = hub.parse(args.model) if args.model and args.model != "demo" else None
    if ref is None:
        return
    path = download.fetch(ref)
    if args.family is None:
        args.family = ref.family or detect_family(ref.file or ref.prefer or ref.repo) or detect_family(path)
    args.model = str(path)


def start(args, config, launcher: TrainerLauncher | None = None) -> int:
    from stylora_tui.integrations.clip_tokenizer import load_shipped
    from stylora_tui.integrations.nvml import this_machine

    prepared = prepare_run(config, runs_root(args.runs_dir), args.run, load_shipped(), machine=this_machine(),
                           allow_cpu=args.allow_cpu)
    run = prepared.run
    launched = (launcher or TrainerLauncher()).launch(run, prepared.config.training.gpus)
    out = console()
    warnings = sorted({f.code for f in prepared.report.findings if f.severity.value == "warning"})
    if warnings:
        out.print(f"[yellow]dataset warnings[/]: {', '.join(warnings)} (details: {safe(check_command(prepared.config.dataset.path))})")
    steps = prepared.report.steps
    out.print(f"started [bold]{run.name}[/] (pid {launched.pid}): {steps.total_steps} steps, {steps.epochs} epochs, log {safe(launched.log)}")
    if args.detach:
        out.print(f"training continues without this terminal; watch it with `{safe(resume_command(run))}`")
        return 0
    state = follow(run, launched_at=time.time(), launched=launched)
    return 1 if state.phase == FAILED else 0


def run(args) -> int:
    resolve_model_option(args)
    try:
        edits = edits_from_args(args)
    except ValueError:
        from stylora_tui.errors import ConfigError

        raise ConfigError(f"--resolution {args.resolution!r} is not a number or WxH", "write it like 1024 or 1024x1536") from None
    family = args.family
    config = preset_for(family, args.preset, edits)
    return start(args, config)
