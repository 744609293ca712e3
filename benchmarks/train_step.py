"""Seconds per LoCon training step and peak memory on the full-size SDXL UNet.

    python benchmarks/train_step.py            # CUDA: full SDXL UNet, random weights, 1024x1024
    python benchmarks/train_step.py --demo     # the demo model on the CPU (a smoke test of this script)

For batch 1 and 4, with and without gradient checkpointing: LoCon `full` (dim 64 / conv 64,
bypass mode) on the UNet, bf16 autocast with bf16 base weights, fused AdamW, max-norm after
every step, as the trainer runs it. Prints a table; record GPU results in docs/BENCHMARKS.md.
Floor on an H100 (FIELD-NOTES): ~27 ms per image-step with gradient checkpointing.
"""

from __future__ import annotations

import argparse
import time

import torch

from stylora_tui.config.build import build_config


def build(demo: bool, device: torch.device, dtype: torch.dtype):
    from diffusers import UNet2DConditionModel

    from stylora_tui.trainer.network import LoConNetwork
    from stylora_tui.trainer.sdxl_layout import shipped_config

    config = shipped_config("unet")
    if demo:
        from stylora_tui.trainer.demo_model import DEMO_OVERRIDES

        config = {**config, **DEMO_OVERRIDES["unet"]}
    torch.manual_seed(0)
    unet = UNet2DConditionModel.from_config(config).to(device, dtype)
    unet.requires_grad_(False)
    net = build_config(
        {
            "network": {
                "dim": 4 if demo else 64,
                "alpha": 2 if demo else 32,
                "conv_dim": 4 if demo else 64,
                "conv_alpha": 2 if demo else 32,
                "train_text_encoders": False,
            }
        }
    ).network
    network = LoConNetwork(unet, None, None, net)
    network.apply_to()
    network.to(device, torch.float32)
    return unet, network, config


def measure(unet, network, config, batch: int, side: int, checkpointing: bool, device, dtype, steps: int) -> tuple[float, float]:
    if checkpointing:
        unet.enable_gradient_checkpointing()
    else:
        unet.disable_gradient_checkpointing()
    unet.train()
    optimizer = torch.optim.AdamW(network.param_groups(1e-4, 0)[0]["params"], fused=device.type == "cuda")
    latent = side // 8
    text_dim = config["cross_attention_dim"]
    pooled_dim = config["projection_class_embeddings_input_dim"] - 6 * config["addition_time_embed_dim"]
    latents = torch.randn(batch, 4, latent, latent, device=device, dtype=dtype)
    hidden = torch.randn(batch, 77, text_dim, device=device, dtype=dtype)
    pooled = torch.randn(batch, pooled_dim, device=device, dtype=dtype)
    time_ids = torch.tensor([[side, side, 0, 0, side, side]] * batch, device=device, dtype=dtype)
    timesteps = torch.randint(0, 1000, (batch,), device=device)

    def step():
        with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
            out = unet(latents, timesteps, hidden, added_cond_kwargs={"text_embeds": pooled, "time_ids": time_ids}).sample
        loss = torch.nn.functional.mse_loss(out.float(), latents.float())
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        network.apply_max_norm(1.0)

    for _ in range(2):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = (time.perf_counter() - start) / steps
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else float("nan")
    return seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demo", action="store_true", help="the demo model on the CPU")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--side", type=int, default=None, help="image side in pixels (default 1024; demo 128)")
    args = parser.parse_args()
    cuda = torch.cuda.is_available() and not args.demo
    if not cuda and not args.demo:
        print("no CUDA device: the full SDXL benchmark needs a GPU (use --demo for a CPU smoke test)")
        return
    device = torch.device("cuda" if cuda else "cpu")
    dtype = torch.bfloat16 if cuda else torch.float32
    side = args.side or (1024 if cuda else 128)
    unet, network, config = build(args.demo, device, dtype)
    name = torch.cuda.get_device_name() if cuda else "CPU (demo model)"
    print(
        f"{name} · {'SDXL UNet 2.57 B' if not args.demo else 'demo UNet'} · LoCon full {network.trainable_parameters() / 1e6:.1f} M params · {side}x{side}"
    )
    print(f"{'batch':>5} {'grad ckpt':>10} {'s/step':>9} {'ms/image':>9} {'peak GiB':>9}")
    for batch in (1, 4):
        for checkpointing in (True, False):
            try:
                seconds, peak = measure(unet, network, config, batch, side, checkpointing, device, dtype, args.steps)
            except torch.cuda.OutOfMemoryError:
                print(f"{batch:>5} {str(checkpointing):>10} {'OOM':>9}")
                torch.cuda.empty_cache()
                continue
            print(f"{batch:>5} {str(checkpointing):>10} {seconds:>9.3f} {1000 * seconds / batch:>9.1f} {peak:>9.1f}")


if __name__ == "__main__":
    main()
