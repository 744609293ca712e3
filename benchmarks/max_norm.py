"""Max-norm (scale_weight_norms) per step: the previous per-module loop against the batched one.

    python benchmarks/max_norm.py [--model sdxl|full-tree|demo] [--dim 64] [--repeat 5]

The adapter is built for real (random weights) over the base model's architecture on the
meta device, so the full SDXL LoCon (1,052 modules) fits in host RAM without the 2.6 B base
weights. "before" is the loop this replaced: per module, W = up @ down materialised, its
norm read back to the host (one sync each), kohya's sqrt(ratio) rescale of up and down.
"after" is LoConNetwork.apply_max_norm: LyCORIS's rule, norms from r x r Gram products,
batched by shape, no host sync. Prints a table; on CUDA the timings include a synchronize.
"""

from __future__ import annotations

import argparse
import time

import torch


def build(model: str, dim: int, device: str):
    from diffusers import UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    from stylora_tui.config.build import build_config
    from stylora_tui.trainer.demo_model import DEMO_OVERRIDES, FULL_TREE_OVERRIDES
    from stylora_tui.trainer.network import LoConNetwork
    from stylora_tui.trainer.sdxl_layout import shipped_config

    overrides = {"demo": DEMO_OVERRIDES, "full-tree": FULL_TREE_OVERRIDES, "sdxl": {}}[model]
    configs = [{**shipped_config(name), **overrides.get(name, {})} for name in ("unet", "text_encoder", "text_encoder_2")]
    keep = lambda c: {k: v for k, v in c.items() if not k.startswith("_") and k != "architectures"}  # noqa: E731
    with torch.device("meta"):
        unet = UNet2DConditionModel.from_config(configs[0])
        te1, te2 = (
            CLIPTextModel(CLIPTextConfig(**keep(configs[1]))),
            CLIPTextModelWithProjection(CLIPTextConfig(**keep(configs[2]))),
        )
    net = build_config({"network": {"dim": dim, "alpha": dim / 2, "conv_dim": dim, "conv_alpha": dim / 2}}).network
    network = LoConNetwork(unet, te1, te2, net)
    network.apply_to()
    network.to(device)
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.normal_(0, 0.05)
    return network


@torch.no_grad()
def per_module_loop(network, max_norm: float) -> int:
    """The replaced implementation: one materialised weight and one host sync per module."""
    scaled = 0
    for module in network.modules_by_key.values():
        lora = module.lora
        down, up = lora.lora_down.weight, lora.lora_up.weight
        weight = up.flatten(1).float() @ down.flatten(1).float() * float(lora.scale)
        norm = torch.clamp(weight.norm(), min=max_norm / 2)
        ratio = float(torch.clamp(norm, max=max_norm) / norm)
        if ratio < 1.0:
            down.mul_(ratio**0.5)
            up.mul_(ratio**0.5)
            scaled += 1
    return scaled


def timed(call, device: str, repeat: int) -> float:
    call()  # warm-up
    if device == "cuda":
        torch.cuda.synchronize()
    began = time.perf_counter()
    for _ in range(repeat):
        call()
    if device == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - began) / repeat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=("sdxl", "full-tree", "demo"), default="full-tree")
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    network = build(args.model, args.dim, device)
    params = sum(p.numel() for p in network.parameters() if p.requires_grad)
    before = timed(lambda: per_module_loop(network, 1.0), device, args.repeat)
    after = timed(lambda: network.apply_max_norm(1.0), device, args.repeat)
    print("| model | device | modules | adapter params | before (per-module loop) | after (batched) | speed-up |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    print(
        f"| {args.model} dim {args.dim} | {device} | {len(network.modules_by_key)} | {params / 1e6:.1f} M | "
        f"{before * 1000:.1f} ms | {after * 1000:.1f} ms | {before / after:.1f}x |"
    )


if __name__ == "__main__":
    main()
