"""Validation loss on held-out images with fixed noise and timesteps.

Training loss wanders with the random timestep of each step, so it says little about
which epoch is best; the same images, noise and timesteps at every saved epoch make the
numbers comparable across epochs.
"""

from __future__ import annotations

import torch

from stylora_tui.trainer.step import denoising_loss

TIMESTEPS = (100, 300, 500, 700, 900)


class Validator:
    def __init__(self, items, latents_for, conditioner, base, device, weight_dtype, seed: int) -> None:
        self.items, self.latents_for, self.conditioner = items, latents_for, conditioner
        self.base, self.device, self.weight_dtype, self.seed = base, device, weight_dtype, seed

    @torch.no_grad()
    def loss(self) -> float:
        unet = self.base.unet
        was_training = unet.training
        unet.eval()
        total, count = 0.0, 0
        try:
            autocast = torch.autocast(self.device.type, dtype=self.weight_dtype, enabled=self.weight_dtype != torch.float32)
            for item in self.items:
                latents = self.latents_for(item).unsqueeze(0).to(self.device, self.weight_dtype)
                # Under autocast like training: text-encoder adapters are fp32 over a bf16 encoder.
                with autocast:
                    hidden, pooled = self.conditioner.encode([item.caption.text()], self.device, self.weight_dtype)
                time_ids = torch.tensor([item.time_ids(item.center_crop)], device=self.device, dtype=self.weight_dtype)
                for timestep in TIMESTEPS:
                    generator = torch.Generator("cpu").manual_seed(self.seed * 1000 + item.index * 10 + timestep)
                    noise = torch.randn(latents.shape, generator=generator).to(self.device, latents.dtype)
                    t = torch.tensor([timestep], device=self.device)
                    # The training loss, unweighted: comparable across epochs and runs.
                    total += denoising_loss(self.base, latents, noise, t, hidden, pooled, time_ids, autocast).item()
                    count += 1
        finally:
            unet.train(was_training)
        return total / max(count, 1)
