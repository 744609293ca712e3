"""Several processes (GPUs) training one run: who takes which batch, agreeing on a stop or
a save, and averaging the adapter's gradients. With one process every call is free.

The adapter is not wrapped in DistributedDataParallel: its forward runs inside the UNet,
never through a wrapper's forward(), which is where DDP arms its gradient hooks. The
gradients are reduced as DDP does it, though: in buckets launched while backward still
runs (`GradientBuckets`), so the transfer hides behind the rest of backward.
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

    def reduce_during_backward(self, params: list[torch.Tensor]) -> GradientBuckets | None:
        """Buckets that average these gradients over all processes; None with one process."""
        return GradientBuckets(params, self.world) if self.world > 1 else None


BUCKET_BYTES = 25 << 20  # DDP's default bucket size


class GradientBuckets:
    """The adapter's gradients averaged over all processes in ~25 MB buckets, each all-reduced
    asynchronously as soon as backward has produced every gradient in it (a hook on each
    parameter), as DDP does. Buckets follow the reverse of the parameters' order, roughly
    the order backward produces them. Armed only for the last micro-batch of an optimizer
    step; `finish` waits for them (a bucket some of whose parameters got no gradient is
    reduced there, with zeros for those) and writes the averages back."""

    def __init__(self, params: list[torch.Tensor], world: int, bucket_bytes: int = BUCKET_BYTES) -> None:
        self.world = world
        self.buckets: list[list[torch.Tensor]] = [[]]
        size = 0
        for param in reversed(params):
            if size and size + param.numel() * param.element_size() > bucket_bytes:
                self.buckets.append([])
                size = 0
            self.buckets[-1].append(param)
            size += param.numel() * param.element_size()
        self.bucket_of = {id(p): index for index, bucket in enumerate(self.buckets) for p in bucket}
        self.armed = False
        self.ready = [0] * len(self.buckets)
        self.inflight: dict[int, tuple[torch.Tensor, object]] = {}
        self.launched_in_backward = 0  # for tests and benchmarks: buckets that overlapped
        for param in params:
            param.register_post_accumulate_grad_hook(self._produced)

    def arm(self, armed: bool) -> None:
        self.armed = armed

    def _produced(self, param: torch.Tensor) -> None:
        if not self.armed:
            return
        index = self.bucket_of[id(param)]
        self.ready[index] += 1
        if self.ready[index] == len(self.buckets[index]):
            self._launch(index)
            self.launched_in_backward += 1

    def _launch(self, index: int) -> None:
        import torch.distributed as dist

        flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in self.buckets[index]])
        self.inflight[index] = (flat, dist.all_reduce(flat, async_op=True))

    def finish(self, apply: bool = True) -> None:
        """Wait for every bucket; with `apply`, each gradient becomes the average."""
        for index in range(len(self.buckets)):
            if index not in self.inflight:
                self._launch(index)
        for index, (flat, handle) in sorted(self.inflight.items()):
            handle.wait()
            if not apply:
                continue
            flat /= self.world
            offset = 0
            for param in self.buckets[index]:
                param.grad = flat[offset : offset + param.numel()].view_as(param)
                offset += param.numel()
        self.inflight.clear()
        self.ready = [0] * len(self.buckets)
        self.armed = False
