"""Optimizers and learning-rate schedules."""

from __future__ import annotations

import torch

from stylora_tui.config.schema import Config
from stylora_tui.errors import StyloraError
from stylora_tui.trainer.flat_adamw import FlatAdamW


class OptimizerError(StyloraError):
    """An optimizer that cannot be built here."""


def build_optimizer(config: Config, groups: list[dict], device: torch.device) -> torch.optim.Optimizer:
    opt = config.optimizer
    args = dict(opt.args)
    if "betas" in args:
        args["betas"] = tuple(args["betas"])
    if opt.name == "AdamW":
        # ~2000 small adapter tensors, stepped as one flat tensor per group (flat_adamw.py).
        # Fused where torch has the kernel (CUDA, and the CPU since torch 2.4: 2.5x faster
        # there than the foreach path, which reads each tensor's step count on the host);
        # without it, foreach rather than torch's default Python loop.
        fused = device.type in fused_devices()
        return FlatAdamW(groups, weight_decay=opt.weight_decay, fused=fused, foreach=not fused, **args)
    if opt.name == "AdamW8bit":
        try:
            import bitsandbytes as bnb
        except ImportError:
            raise OptimizerError(
                "AdamW8bit needs the bitsandbytes package",
                'pip install bitsandbytes (CUDA only), or use optimizer.name = "AdamW"',
            ) from None
        return bnb.optim.AdamW8bit(groups, weight_decay=opt.weight_decay, **args)
    if opt.name == "Prodigy":
        try:
            from prodigyopt import Prodigy
        except ImportError:
            raise OptimizerError(
                "Prodigy needs the prodigyopt package", 'pip install prodigyopt, or use optimizer.name = "AdamW"'
            ) from None
        return Prodigy(groups, weight_decay=opt.weight_decay, **args)
    if opt.name == "Adafactor":
        from transformers.optimization import Adafactor

        args.setdefault("scale_parameter", False)
        args.setdefault("relative_step", False)
        args.setdefault("warmup_init", False)
        return Adafactor(groups, weight_decay=opt.weight_decay, **args)
    raise OptimizerError(f"unknown optimizer {opt.name}", "use AdamW, AdamW8bit, Prodigy or Adafactor")


def fused_devices() -> list[str]:
    """Device types with torch's fused optimizer kernels, in this torch."""
    try:
        from torch.utils._foreach_utils import _get_fused_kernels_supported_devices
    except ImportError:  # older than torch 2.1
        return ["cuda"]
    return _get_fused_kernels_supported_devices()


def warmup_steps(config: Config, total_steps: int) -> int:
    sch = config.scheduler
    return sch.warmup_steps if sch.warmup_steps else int(round(sch.warmup_ratio * total_steps))


def build_scheduler(config: Config, optimizer, total_steps: int):
    from diffusers.optimization import get_scheduler

    sch = config.scheduler
    return get_scheduler(
        sch.name,
        optimizer,
        num_warmup_steps=warmup_steps(config, total_steps),
        num_training_steps=total_steps,
        num_cycles=sch.cycles,
        power=sch.power,
    )
