"""Host-to-GPU copies that do not stop the host.

A copy from pageable memory waits for the GPU to finish what is queued; from page-locked
(pinned) memory it is queued like a kernel. On a CPU both are plain moves.
"""

from __future__ import annotations

import torch


def pinned(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Page-locked when bound for CUDA, so the copy to the GPU does not wait."""
    return tensor.pin_memory() if device.type == "cuda" else tensor


def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """`tensor` on `device`: pinned (a no-op when it already is) and copied without blocking
    on CUDA. Latents the VAE encoded just now are on the GPU already and only move."""
    if device.type != "cuda" or tensor.device.type != "cpu":
        return tensor.to(device)
    return pinned(tensor, device).to(device, non_blocking=True)
