"""Several processes (GPUs) training one run: who takes which batch, agreeing on a stop or
a save, and averaging the adapter's gradients. With one process every call is free.

Gradients are averaged by torch's DistributedDataParallel, prepared by accelerate, as every
peer trainer does: buckets all-reduced while backward still runs, in the same order on every
process, rebuilt in the order backward produces them. DDP arms its hooks in its wrapper's
forward(), but the adapter's modules run inside the UNet and the text encoders, never
through a forward of their own: so the wrapper (`Replicated`) holds the adapter as its only
parameters and its forward runs the whole loss computation it is handed.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

import torch

from stylora_tui.errors import StyloraError


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

    def check_replicas(self, adapter: torch.nn.Module) -> None:
        """Every process holds the same adapter (identical averaged gradients, identical
        steps), checked before each checkpoint: a process that silently trained alone would
        otherwise be found only in a worse adapter. Two sums, one all-reduce."""
        if self.world == 1:
            return
        import torch.distributed as dist

        with torch.no_grad():
            sums = torch.stack([torch.stack([p.double().sum(), p.double().abs().sum()]) for p in adapter.parameters()]).sum(0)
        both = torch.cat([sums, -sums])  # on the adapter's device, as the collective needs
        dist.all_reduce(both, op=dist.ReduceOp.MAX)
        highest, lowest = both[:2], -both[2:]
        if not torch.allclose(highest, lowest, rtol=1e-9, atol=0.0):
            raise StyloraError(
                f"the {self.world} processes' adapters differ (weight sums {lowest.tolist()} to {highest.tolist()}): "
                "their gradients were not averaged",
                "this is a bug: report it with the run's logs/trainer.log; no checkpoint was written from these weights",
            )

    def shard(self, batches: list[list[int]]) -> list[list[int]]:
        """This process's batches: every world-th one, wrapping so all take as many steps."""
        if self.world == 1:
            return batches
        count = math.ceil(len(batches) / self.world)
        return [batches[(i * self.world + self.rank) % len(batches)] for i in range(count)]

    def replicate(self, adapter: torch.nn.Module) -> Replicated | torch.nn.parallel.DistributedDataParallel:
        """What each training step's loss is computed through: with several processes,
        `adapter` in DDP; with one, as it is (nothing to average)."""
        if self.world == 1:
            return Replicated(adapter)
        # DDP's settings come from `ddp_settings`, given to the Accelerator. No device
        # placement (the adapter is placed already), and the forward left as it is:
        # accelerate wraps it in an autocast of its own, and the loss computation already
        # autocasts what it should; without the wrapper one GPU and several compute alike.
        with warnings.catch_warnings():
            # torch 2.13 renames broadcast_buffers, but only the old name skips buffers at
            # init too; 2.x before it knows only the old one.
            warnings.filterwarnings("ignore", message=".*broadcast_buffers.*", category=FutureWarning)
            prepared = self.accelerator.prepare_model(Replicated(adapter), device_placement=False)
        module = prepared.module
        if hasattr(module, "_original_forward"):
            module.forward = module._original_forward
        return prepared

    def accumulating(self, replicated: torch.nn.Module, last: bool) -> AbstractContextManager:
        """Around a micro-batch's forward and backward: gradients are averaged only on the
        optimizer step's last micro-batch, the others accumulate locally (DDP's no_sync)."""
        if self.world == 1 or last:
            return nullcontext()
        return replicated.no_sync()


def ddp_settings():
    """For accelerate's Accelerator(kwargs_handlers=...). A parameter may go unused on a
    process (a graph that differs by process): DDP then finds it from the graph and, where no
    process used it, leaves its gradient None, as one process would. Buffers are no business
    of DDP's: the max-norm scalars change identically everywhere, from identical gradients,
    and syncing ~3 k small buffers before every forward is host work a step can do without."""
    from accelerate.utils import DistributedDataParallelKwargs

    return DistributedDataParallelKwargs(find_unused_parameters=True, broadcast_buffers=False)


class Replicated(torch.nn.Module):
    """The adapter as DDP sees it: its parameters, and a forward that computes whatever it is
    handed (the micro-batch's loss, through the base models the adapter lives in)."""

    def __init__(self, adapter: torch.nn.Module) -> None:
        super().__init__()
        self.adapter = adapter

    def forward(self, compute: Callable[[], torch.Tensor]) -> torch.Tensor:
        return compute()
