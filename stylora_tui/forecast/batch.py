"""Batch size above 1: what it buys, whether it fits, and what it does to the learning rate.

As sd-scripts does it: batches form within a bucket (a bucket's last batch may be short), so
an epoch is Σ ceil(images × repeats / batch) steps; the loss is the batch's mean; and the
learning rate is the one set, never scaled with the batch. With Adam each step moves the
adapter about as far whatever the batch, so a batch of B takes B times fewer steps over the
same epochs and moves it less: said in review, so a user who raises the batch raises the
rates or the epochs knowingly.

What a larger batch buys on a GPU is the per-step cost that does not grow with the batch (the
launches of ~1000 adapter modules' kernels, the optimizer): shared by B images instead of one.
The estimates model exactly that (forecast/estimates.py), nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from stylora_tui.config.schema import Config
from stylora_tui.dataset.buckets import StepCount
from stylora_tui.forecast.estimates import FITS, checkpointing, human, own_duration, own_gpu_gib, peak_vram_gib
from stylora_tui.integrations.machine import Machine

LARGEST = 8  # beyond it, most style datasets' buckets hold fewer images than one batch
MATERIAL = 0.1  # a share of the run's time worth changing the batch for
RATE = "the learning rate is not scaled with the batch, as in sd-scripts"


@dataclass(frozen=True)
class BatchChoice:
    batch_size: int
    total_steps: int
    seconds: float | None  # on this machine's GPU, by estimate; None without one we know


def at_batch(config: Config, batch_size: int) -> Config:
    return replace(config, training=replace(config.training, batch_size=batch_size))


def choice(config: Config, steps: StepCount, machine: Machine, batch_size: int) -> BatchChoice:
    changed = at_batch(config, batch_size)
    total = steps.at_batch(batch_size).total_steps
    here = own_duration(changed, total, machine)
    return BatchChoice(batch_size, total, here.seconds if here is not None else None)


def fits(config: Config, memory_gib: float) -> bool:
    return peak_vram_gib(config, checkpointing(config, memory_gib)) <= FITS * memory_gib


def faster_batch(config: Config, steps: StepCount, machine: Machine) -> BatchChoice | None:
    """The batch that fits this machine's GPU and finishes soonest by estimate, when that is
    not the batch set and saves at least MATERIAL of the time; None without a GPU here (the
    gain depends on the card: a few per cent on a slow one, a third on a fast one)."""
    offer = _offer(config, steps, machine)
    return offer[0] if offer is not None else None


def _offer(config: Config, steps: StepCount, machine: Machine) -> tuple[BatchChoice, float, float] | None:
    """(the faster batch, its seconds, the batch set's seconds), or None."""
    memory = own_gpu_gib(machine)
    if memory is None:
        return None
    now = choice(config, steps, machine, config.training.batch_size).seconds
    fullest = max((b.draws for b in steps.buckets), default=1)
    sizes = [b for b in range(1, min(LARGEST, fullest) + 1) if fits(at_batch(config, b), memory)]
    timed = [(c.seconds, -c.batch_size, c) for c in (choice(config, steps, machine, b) for b in sizes) if c.seconds is not None]
    if now is None or not timed:
        return None
    seconds, _, best = min(timed, key=lambda t: t[:2])
    return (best, seconds, now) if seconds <= (1 - MATERIAL) * now else None


def batch_json(config: Config, steps: StepCount | None, machine: Machine) -> dict:
    """plan --json's "batch": the batch set, its steps, and a faster one that fits here."""
    offer = _offer(config, steps, machine) if steps is not None else None
    faster = None
    if offer is not None:
        better, seconds, _ = offer
        faster = {"batch_size": better.batch_size, "total_steps": better.total_steps, "seconds": round(seconds)}
    return {
        "batch_size": config.training.batch_size,
        "total_steps": steps.total_steps if steps is not None else None,
        "learning_rate_scaled": False,
        "faster": faster,
    }


def batch_line(config: Config, steps: StepCount | None, machine: Machine) -> str:
    """review and plan's "batch:" line."""
    size = config.training.batch_size
    per_gpu = " per GPU" if config.training.gpus > 1 else ""
    if steps is None:
        return f"batch: {size}{per_gpu}; {RATE}"
    line = f"batch: {size}{per_gpu} ({steps.total_steps} steps"
    line += f"; {steps.at_batch(1).total_steps} at batch 1); {RATE}: fewer steps move the adapter less" if size > 1 else ")"
    offer = _offer(config, steps, machine)
    if offer is not None:
        better, seconds, now = offer
        line += (
            f"; batch {better.batch_size} fits here: {better.total_steps} steps, "
            f"about {human(seconds)} instead of {human(now)} by estimate"
        )
        if size == 1:
            line += f"; {RATE}: raise the rates or the epochs with it"
    return line
