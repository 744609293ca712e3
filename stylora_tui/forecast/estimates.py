"""How long a run will take and how much GPU memory it needs, before it starts.

Nothing here is measured: durations come from the step's compute (the full SDXL LoCon
step, FIELD-NOTES) over a card's dense bf16 rate at a stated efficiency. No GPU has been
lent to measure one yet; when docs/BENCHMARKS.md holds real step times, EFFICIENCY and
STEP_OVERHEAD_S are what to correct. The memory model adds the frozen base in bf16, the adapter
with its gradients and optimizer state, the activations of one step, and the CUDA
context; it decides gradient checkpointing "auto" (off where the card has the memory).
"""

from __future__ import annotations

from dataclasses import dataclass

from stylora_tui.config.schema import Config
from stylora_tui.forecast.size import estimate
from stylora_tui.integrations.machine import Machine
from stylora_tui.model.files import SDXL_UNET_PARAMETERS, unet_parameters

# A training step of the full SDXL UNet (LoCon in bypass mode) per image at 1024x1024, in
# TFLOP: with and without gradient checkpointing (FIELD-NOTES).
STEP_TFLOP_1024 = {True: 21.5, False: 15.0}
# Share of a card's dense bf16 peak (fp32 accumulate, what torch uses) that the step's
# big matmuls and convolutions sustain, plus a fixed cost per step that no card hides: the
# launches of ~1000 adapter modules' extra kernels forward and backward, and the optimizer
# over them. Stated from public kohya/OneTrainer reports (an RTX 3090 at ~2 s/it at
# 1024x1024 with checkpointing), not measured here: correct both when docs/BENCHMARKS.md
# has real step times.
EFFICIENCY = 0.25
STEP_OVERHEAD_S = 0.15


@dataclass(frozen=True)
class Card:
    name: str
    bf16_tflops: float  # dense
    memory_gib: float


# Rented most often for SDXL training; matched by name against what NVML reports.
CARDS = (
    Card("RTX 3090", 35.6, 24),  # GeForce: half rate with fp32 accumulate
    Card("RTX 4090", 165, 24),
    Card("RTX A6000", 155, 48),
    Card("L40S", 362, 48),
    Card("A100", 312, 80),
    Card("H100 PCIe", 756, 80),
    Card("H100", 989, 80),  # SXM; NVML says "NVIDIA H100 80GB HBM3"
    Card("H200", 989, 141),
)

TEXT_ENCODER_PARAMETERS = 817_000_000  # CLIP ViT-L + OpenCLIP bigG with projection
ADAPTER_BYTES_PER_PARAM = {"AdamW8bit": 4 + 4 + 2}  # fp32 weight and grad, two 8-bit moments
ADAMW_BYTES_PER_PARAM = 4 + 4 + 8  # fp32 weight, grad, two fp32 moments
HALF_COPY_BYTES_PER_PARAM = 2  # under bf16/fp16 the forward reads a half-precision copy (trainer/bypass.py)
# Activations of one 1024x1024 image through the SDXL UNet in bf16, with and without
# gradient checkpointing (GiB); they grow with pixels, batch and the UNet's size.
ACTIVATIONS_GIB_1024 = {True: 3.0, False: 14.0}
CUDA_CONTEXT_GIB = 1.5
FITS = 0.85  # leave room for the allocator's fragmentation


def card_for(gpu_name: str) -> Card | None:
    name = gpu_name.upper()
    return next((c for c in CARDS if c.name.upper() in name), None)


def own_gpu_gib(machine: Machine) -> float | None:
    """This machine's (first) GPU memory: as NVML read it, else the card table's."""
    if not machine.gpus:
        return None
    known = card_for(machine.gpus[0])
    return machine.first_gpu_gib or (known.memory_gib if known else None)


def step_tflop(config: Config, checkpointing: bool) -> float:
    """One optimizer step's compute: the full SDXL figure, scaled by pixels, batch and the
    UNet's size (compute grows with parameters at a given resolution, near enough)."""
    width, height = config.resolution
    size = unet_parameters(config.model.path) / SDXL_UNET_PARAMETERS
    tr = config.training
    return STEP_TFLOP_1024[checkpointing] * (width * height) / 1024**2 * tr.batch_size * tr.gradient_accumulation_steps * size


def peak_vram_gib(config: Config, checkpointing: bool) -> float:
    width, height = config.resolution
    unet = unet_parameters(config.model.path)
    # The text encoders scale with the UNet near enough (a tiny test model has tiny ones).
    base = unet * (1 + TEXT_ENCODER_PARAMETERS / SDXL_UNET_PARAMETERS) * 2 / 2**30
    per_param = ADAPTER_BYTES_PER_PARAM.get(config.optimizer.name, ADAMW_BYTES_PER_PARAM)
    if config.training.mixed_precision != "no":
        per_param += HALF_COPY_BYTES_PER_PARAM
    adapter = estimate(config).trainable_params * per_param / 2**30
    activations = (
        ACTIVATIONS_GIB_1024[checkpointing]
        * (width * height)
        / 1024**2
        * config.training.batch_size
        * unet
        / SDXL_UNET_PARAMETERS
    )
    return base + adapter + activations + CUDA_CONTEXT_GIB


def checkpointing(config: Config, gpu_memory_gib: float | None) -> bool:
    """training.gradient_checkpointing, with "auto" decided: off where the card holds the
    step without it (it costs about 43% more compute), on where it does not or the card is
    unknown; off on a CPU, where memory is plentiful and compute is what is short."""
    chosen = config.training.gradient_checkpointing
    if chosen != "auto":
        return bool(chosen)
    if gpu_memory_gib is None:
        return False
    return peak_vram_gib(config, False) > FITS * gpu_memory_gib


@dataclass(frozen=True)
class Duration:
    card: str
    seconds: float
    fits: bool
    checkpointing: bool


def durations(config: Config, total_steps: int, machine: Machine) -> list[Duration]:
    """Estimated run time on this machine's GPU (first, when known) and the usual rentals."""
    own = []
    if machine.gpus:
        # The card's own memory wins over the table's: an A100 comes with 40 or 80 GiB.
        known = card_for(machine.gpus[0])
        own = [Card(known.name if known else machine.gpus[0], known.bf16_tflops if known else 0, own_gpu_gib(machine) or 0)]
    result = []
    for card in own + [c for c in CARDS if not own or c.name != own[0].name]:
        memory = card.memory_gib
        ckpt = checkpointing(config, memory)
        fits = peak_vram_gib(config, ckpt) <= FITS * memory if memory else True
        if not card.bf16_tflops:
            continue  # a card we have no figures for: no guess
        # total_steps already counts the GPUs sharing the work; each runs its own step.
        seconds = (step_tflop(config, ckpt) / (card.bf16_tflops * EFFICIENCY) + STEP_OVERHEAD_S) * total_steps
        result.append(Duration(card.name, seconds, fits, ckpt))
    return result


def own_duration(config: Config, total_steps: int, machine: Machine) -> Duration | None:
    """The estimate for this machine's GPU; None without one, or one we have no figures for."""
    if not machine.gpus:
        return None
    known = card_for(machine.gpus[0])
    first = durations(config, total_steps, machine)[:1]
    return first[0] if first and first[0].card == (known.name if known else machine.gpus[0]) else None


def human(seconds: float) -> str:
    hours = seconds / 3600
    if seconds < 90:
        return f"{seconds:.0f} s"
    if hours < 1:
        return f"{seconds / 60:.0f} min"
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} days"


def lower_hint(config: Config) -> str:
    tr = config.training
    parts = []
    if tr.gradient_checkpointing is False:
        parts.append("turn on training.gradient_checkpointing")
    if tr.batch_size > 1:
        parts.append(f"lower training.batch_size (now {tr.batch_size})")
    parts.append(f"lower network.dim (now {config.network.dim})")
    parts.append(f"lower dataset.resolution_px (now {config.resolution[0]}x{config.resolution[1]})")
    return ", or ".join(parts)


def summary_lines(
    config: Config,
    total_steps: int | None,
    machine: Machine,
    most_cards: int | None = None,
    price_per_hour: float | None = None,
) -> list[str]:
    """What review and `plan` say about time and memory (and, with this machine's price, the
    run's cost), one line each. Without a GPU here the memory verdict is for a 24 GiB card,
    the smallest usual SDXL rental."""
    lines = []
    own_memory = own_gpu_gib(machine)
    memory = own_memory or 24.0
    ckpt = checkpointing(config, memory)
    peak = peak_vram_gib(config, ckpt)
    where = f"{machine.gpus[0]} ({own_memory:.0f} GiB)" if own_memory else "a 24 GiB card"
    verdict = "fits" if peak <= FITS * memory else f"does not fit: {lower_hint(config)}"
    lines.append(
        f"GPU memory: about {peak:.0f} GiB at peak, gradient checkpointing {'on' if ckpt else 'off'}; on {where} it {verdict}"
    )
    if total_steps:
        shown = durations(config, total_steps, machine)[:most_cards]
        parts = [f"{d.card} {human(d.seconds)}{'' if d.fits else ' (does not fit)'}" for d in shown]
        lines.append(f"time: {', '.join(parts)} (estimated from each card's compute rate, not measured)")
        here = own_duration(config, total_steps, machine)
        if price_per_hour and here is not None:
            cost = price_per_hour * here.seconds / 3600
            lines.append(f"cost: about ${cost:,.2f} on this machine at ${price_per_hour:,.2f}/h ({human(here.seconds)})")
    return lines
