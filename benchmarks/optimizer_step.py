"""The optimizer's part of a step: AdamW over the adapter's tensors one by one against flat.

    python benchmarks/optimizer_step.py [--model full-tree|sdxl|demo] [--dim 6] [--steps 40]

What the trainer does after each backward, on the adapter built for real over the base
model's architecture (benchmarks/max_norm.py's `build`): "per tensor" is what it did until
flat_adamw.py (clip_grad_norm_ over ~2,090 gradients, torch's AdamW, fused where torch has
the kernel, and zero_grad); "flat" is FlatAdamW (the gradients flattened per group, the clip
and the step over one tensor per group, zero_grad). Every parameter gets a fresh gradient
before each step, as a backward leaves it, except CLIP-L's last layer, which has none in
training. Steps alternate between the two (ABAB) so the machine's load falls on both; the
median and p10-p90 per step are printed as a table. On CUDA the timings include a
synchronize: host and device time together, as a step pays them.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from max_norm import build  # noqa: E402

from stylora_tui.trainer.flat_adamw import FlatAdamW  # noqa: E402
from stylora_tui.trainer.optim import fused_devices  # noqa: E402


def setup(model: str, dim: int, device: str, flat: bool):
    torch.manual_seed(0)
    network = build(model, dim, device)
    last_layer = max(int(k.split("_layers_")[1].split("_")[0]) for k in network.modules_by_key if k.startswith("lora_te1"))
    unused = f"lora_te1_text_model_encoder_layers_{last_layer}_"
    with_grad = [p for k, m in network.modules_by_key.items() if not k.startswith(unused) for p in m.lora.parameters()]
    fused = torch.device(device).type in fused_devices()
    kind = FlatAdamW if flat else torch.optim.AdamW
    optimizer = kind(network.param_groups(1e-4, 5e-5), weight_decay=0.01, fused=fused, foreach=not fused)
    params = [p for group in optimizer.param_groups for p in group["params"]]
    grads = [torch.randn_like(p) * 1e-3 for p in with_grad]
    return network, optimizer, params, with_grad, grads


def step(optimizer, params: list, with_grad: list, grads: list, device: str) -> float:
    for p, g in zip(with_grad, grads):
        p.grad = g.clone()  # a backward's fresh gradient, not timed
    if device == "cuda":
        torch.cuda.synchronize()
    began = time.perf_counter()
    stepped = optimizer.gather() if isinstance(optimizer, FlatAdamW) else params
    torch.nn.utils.clip_grad_norm_(stepped, 1.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=("sdxl", "full-tree", "demo"), default="full-tree")
    parser.add_argument("--dim", type=int, default=6, help="adapter rank (6: the practice's 64 scaled to full-tree's widths)")
    parser.add_argument("--steps", type=int, default=40, help="timed steps of each (default 40)")
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    setups = {name: setup(args.model, args.dim, device, flat=name == "flat") for name in ("per tensor", "flat")}
    times: dict[str, list[float]] = {name: [] for name in setups}
    for index in range(args.steps + 3):
        for name, (_, optimizer, params, with_grad, grads) in setups.items():
            elapsed = step(optimizer, params, with_grad, grads, device)
            if index >= 3:  # the first steps create the state (and group the flat one)
                times[name].append(elapsed)
    network, _, _, with_grad, _ = setups["flat"]
    tensors = sum(1 for m in network.modules_by_key.values() for _ in m.lora.parameters())
    parameters = sum(p.numel() for m in network.modules_by_key.values() for p in m.lora.parameters())
    print(
        f"{args.model} at rank {args.dim}: {tensors:,} adapter tensors ({len(with_grad):,} with a gradient), "
        f"{parameters / 1e6:.1f} M parameters, {device}, {args.steps} steps each, alternating"
    )
    print("| optimizer | ms/step (median) | p10–p90 |")
    print("| --- | --- | --- |")
    for name, values in times.items():
        deciles = statistics.quantiles(values, n=10)
        print(f"| {name} | {statistics.median(values) * 1e3:.1f} | {deciles[0] * 1e3:.1f}–{deciles[-1] * 1e3:.1f} |")


if __name__ == "__main__":
    main()
