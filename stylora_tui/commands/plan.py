"""`stylora-tui plan [train options] [--json]`."""

from __future__ import annotations

from pathlib import Path

from stylora_tui.config.presets import preset_for
from stylora_tui.dataset.doctor import examine
from stylora_tui.dataset.scan import scan_dataset
from stylora_tui.forecast.batch import batch_json, batch_line
from stylora_tui.forecast.estimates import checkpointing, durations, own_duration, own_gpu_gib, peak_vram_gib, summary_lines
from stylora_tui.integrations.nvml import this_machine
from stylora_tui.launch import preflight
from stylora_tui.launch.options import edits_from_args, resolve_model_option
from stylora_tui.launch.prepare import with_defaults
from stylora_tui.model.files import check_model_path, check_vae_path, resolve_prediction
from stylora_tui.rental.meter import machine_price
from stylora_tui.views import download
from stylora_tui.views.console import console, print_json, safe


def run(args) -> int:
    resolve_model_option(args, download.fetch)
    config = with_defaults(preset_for(args.family, args.preset, edits_from_args(args)))
    if config.model.path:
        check_model_path(config.model.path)
        check_vae_path(config.model.vae)
    prediction = resolve_prediction(config.model.path, config.model.prediction_type, config.training.zero_terminal_snr)
    steps, counted = None, None
    if config.dataset.path:
        report = examine(
            scan_dataset(Path(config.dataset.path), config.dataset.caption_extension, config.dataset.repeats), config
        )
        counted = report.steps
        steps = counted.to_json()
    machine = this_machine()
    problems = preflight.check(config, machine, steps["total"] if steps else None)
    from stylora_tui.trainer.modules import host_ram_bytes, plan_network

    plan = plan_network(config)
    # Frozen weights load in the training dtype: bf16/fp16 on a GPU, fp32 on a CPU.
    weight_bytes = 2 if machine.has_cuda and config.training.mixed_precision != "no" else 4
    host_ram = host_ram_bytes(config.model.path, weight_bytes)
    data = {
        "model": config.model.path or "standard SDXL architecture",
        "family": config.model.family,
        "algo": config.network.algo,
        "preset": config.network.preset,
        "module_count": len(plan.modules),
        "by_component": plan.by_component,
        "modules": list(plan.modules),
        "trainable_params": plan.trainable_params,
        "save_precision": config.saving.precision,
        "output_bytes": plan.output_bytes,
        "steps": steps,
        "prediction": {"type": prediction.type, "zero_terminal_snr": prediction.zero_terminal_snr, "source": prediction.source},
        "latents": "encoded every step (random_crop)" if config.dataset.random_crop else "cached once",
        "host_ram_bytes": host_ram,
        "preflight": [p.to_json() for p in problems],
        "estimates": estimates_json(config, steps["total"] if steps else None, machine),
        "batch": batch_json(config, counted, machine),
    }
    refused = [p for p in problems if p.code != "cpu-training"]
    if args.json:
        print_json(data)
        return 1 if refused else 0
    out = console()
    parts = ", ".join(f"{n} {c}" for c, n in plan.by_component.items())
    out.print(
        f"{config.network.algo} '{config.network.preset}' on {safe(data['model'])} ({config.model.family}): {len(plan.modules)} modules ({parts})"
    )
    out.print(
        f"trainable parameters: {plan.trainable_params:,}; output file about {plan.output_bytes / 2**20:.1f} MiB at {config.saving.precision}"
    )
    if steps:
        out.print(f"steps: {steps['per_epoch']} per epoch x {steps['epochs']} epochs = {steps['total']}")
    out.print(f"predicts: {prediction.label}", markup=False)
    if config.dataset.random_crop:
        out.print("random_crop: every image is cropped and VAE-encoded again at every step (no latent cache; slower)")
    out.print(f"system RAM while loading: about {host_ram / 2**30:.1f} GiB")
    price = machine_price(config.rental.price_per_hour)
    for line in summary_lines(config, steps["total"] if steps else None, machine, price_per_hour=price):
        out.print(safe(line))
    out.print(safe(batch_line(config, counted, machine)))
    for problem in problems:
        label = "[yellow]warning[/]" if problem.code == "cpu-training" else "[red]error[/]"
        out.print(f"{label}: {safe(problem.message)}\n  hint: {safe(problem.hint)}")
    return 1 if refused else 0


def estimates_json(config, total_steps, machine) -> dict:
    ckpt = checkpointing(config, own_gpu_gib(machine) or 24.0)
    price = machine_price(config.rental.price_per_hour)
    here = own_duration(config, total_steps, machine) if total_steps else None
    return {
        "price_per_hour": price,
        "cost": round(price * here.seconds / 3600, 2) if price and here is not None else None,
        "gradient_checkpointing": ckpt,
        "peak_vram_gib": round(peak_vram_gib(config, ckpt), 1),
        "durations": [
            {"gpu": d.card, "seconds": round(d.seconds), "fits": d.fits, "gradient_checkpointing": d.checkpointing}
            for d in durations(config, total_steps, machine)
        ]
        if total_steps
        else [],
    }
