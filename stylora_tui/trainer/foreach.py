"""Multi-tensor operations, with what torch before them did instead."""

from __future__ import annotations

import torch


@torch.no_grad()
def copy_all(targets: list[torch.Tensor], sources: list[torch.Tensor]) -> None:
    """Each source into its target: on CUDA a handful of launches for thousands of tensors,
    on a CPU one call that loops below the dispatcher."""
    if hasattr(torch, "_foreach_copy_"):
        torch._foreach_copy_(targets, sources)
    else:  # torch < 2.1
        for target, source in zip(targets, sources):
            target.copy_(source)
