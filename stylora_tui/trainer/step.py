"""One denoising loss: what training steps and the validation loss both compute.

Noise the latents at the timesteps, predict with the UNet, compare with the target the
base model was trained on (the noise for epsilon models, the velocity for v-prediction),
and weight by min-SNR where asked (min(SNR, gamma) / SNR for epsilon, / (SNR + 1) for v:
kohya's apply_snr_weight).
"""

from __future__ import annotations

import torch

from stylora_tui.model.files import V_PREDICTION


def denoising_loss(
    base,
    latents: torch.Tensor,
    noise: torch.Tensor,
    timesteps: torch.Tensor,
    hidden: torch.Tensor,
    pooled: torch.Tensor,
    time_ids: torch.Tensor,
    autocast,
    min_snr_gamma: float = 0.0,
    alphas_cumprod: torch.Tensor | None = None,
) -> torch.Tensor:
    """The loss of each sample in the batch, shape (batch,)."""
    scheduler = base.noise_scheduler
    noisy = scheduler.add_noise(latents, noise, timesteps)
    with autocast:
        prediction = base.unet(noisy, timesteps, hidden, added_cond_kwargs={"text_embeds": pooled, "time_ids": time_ids}).sample
    v_prediction = base.prediction.type == V_PREDICTION
    target = scheduler.get_velocity(latents, noise, timesteps) if v_prediction else noise
    loss = torch.nn.functional.mse_loss(prediction.float(), target.float(), reduction="none").mean(dim=(1, 2, 3))
    if min_snr_gamma:
        alphas = alphas_cumprod[timesteps]
        snr = alphas / (1 - alphas)
        loss = loss * torch.clamp(snr, max=min_snr_gamma) / (snr + 1 if v_prediction else snr)
    return loss
