"""Optimizers and learning-rate schedules."""

from __future__ import annotations

import torch

from stylora_tui.config.schema import Config
from stylora_tui.errors import StyloraError


class OptimizerError(StyloraError):
    """An optimizer that cannot be built here."""


def build_optimizer(config: Config, groups: list[dict], device: torch.device) -> torch.optim.Optimizer:
    opt = config.optimizer
    args = dict(opt.args)
    if "betas" in args:
        args["betas"] = tuple(args["betas"])
    if opt.name == "AdamW":
        # ~2000 small adapter tensors: the fused kernel is one launch for all of them on CUDA;
        # elsewhere torch defaults to a Python loop over them (11 operations each, a third of
        # a tiny-width step's operations), where the foreach path is one call per operation.
        cuda = device.type == "cuda"
        return torch.optim.AdamW(groups, weight_decay=opt.weight_decay, fused=cuda, foreach=not cuda, **args)
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
