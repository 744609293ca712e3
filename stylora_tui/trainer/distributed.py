"""Several processes (GPUs) training one run: who takes which batch, agreeing on a stop or
a save, and averaging the adapter's gradients. With one process every call is free.

The adapter is not wrapped in DistributedDataParallel: its forward runs inside the UNet,
never through a wrapper's forward(), which is where DDP arms its gradient hooks. Gradients
are all-reduced explicitly at each optimizer step instead.
"""

from __future__ import annotations

import math

import torch


class Group:
    def __init__(self, accelerator, device: torch.device) -> None:
        self.accelerator, self.device = accelerator, device
        self.rank, self.world = accelerator.process_index, accelerator.num_processes
        self.is_main = accelerator.is_main_process

    def barrier(self) -> None:
        self.accelerator.wait_for_everyone()

    def agree_any(self, flags: list[bool]) -> list[bool]:
        """Each flag true on any process is true on all (one small all-reduce)."""
        if self.world == 1:
            return flags
        import torch.distributed as dist

        tensor = torch.tensor([1.0 if f else 0.0 for f in flags], device=self.device)
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
        return [bool(v) for v in tensor.tolist()]

    def mean_across(self, value: float) -> float:
        if self.world == 1:
            return value
        import torch.distributed as dist

        tensor = torch.tensor([value], device=self.device)
        dist.all_reduce(tensor)
        return float(tensor.item()) / self.world

    def shard(self, batches: list[list[int]]) -> list[list[int]]:
        """This process's batches: every world-th one, wrapping so all take as many steps."""
        if self.world == 1:
            return batches
        count = math.ceil(len(batches) / self.world)
        return [batches[(i * self.world + self.rank) % len(batches)] for i in range(count)]

    def average_gradients(self, optimizer) -> None:
        """Average the adapter's gradients over all processes in one all-reduce."""
        if self.world == 1:
            return
        import torch.distributed as dist
        from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors

        params = [p for group in optimizer.param_groups for p in group["params"]]
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        flat = _flatten_dense_tensors(grads)
        dist.all_reduce(flat)
        flat /= self.world
        for param, synced in zip(params, _unflatten_dense_tensors(flat, grads)):
            param.grad = synced
