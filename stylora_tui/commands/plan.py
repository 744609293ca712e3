"""`stylora-tui plan [train options] [--json]`."""

from __future__ import annotations

from pathlib import Path

from stylora_tui.commands.output import console, print_json
from stylora_tui.commands.train import edits_from_args
from stylora_tui.core.dataset import scan_dataset
from stylora_tui.core.doctor import examine
from stylora_tui.core.launch import with_defaults
from stylora_tui.core.modelpath import check_model_path
from stylora_tui.core.presets import preset_for


def run(args) -> int:
    config = with_defaults(preset_for(args.family, args.preset, edits_from_args(args)))
    if config.model.path:
        check_model_path(config.model.path)
    steps = None
    if config.dataset.path:
        report = examine(scan_dataset(Path(config.dataset.path), config.dataset.caption_extension, config.dataset.repeats), config)
        steps = report.steps.to_json()
    from stylora_tui.trainer.plan import plan_network

    plan = plan_network(config)
    data = {
        "model": config.model.path or "standard SDXL architecture",
        "algo": config.network.algo,
        "preset": config.network.preset,
        "module_count": len(plan.modules),
        "by_component": plan.by_component,
        "modules": list(plan.modules),
        "trainable_params": plan.trainable_params,
        "save_precision": config.saving.precision,
        "output_bytes": plan.output_bytes,
        "steps": steps,
    }
    if args.json:
        print_json(data)
        return 0
    out = console()
    parts = ", ".join(f"{n} {c}" for c, n in plan.by_component.items())
    out.print(f"{config.network.algo} '{config.network.preset}' on {data['model']}: {len(plan.modules)} modules ({parts})")
    out.print(f"trainable parameters: {plan.trainable_params:,}; output file about {plan.output_bytes / 2**20:.1f} MiB at {config.saving.precision}")
    if steps:
        out.print(f"steps: {steps['per_epoch']} per epoch x {steps['epochs']} epochs = {steps['total']}")
    return 0
