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
    asynchronously once backward has produced every gradient in it (a hook on each
    parameter), as DDP does, and launched strictly in bucket order, as DDP's are: collectives
    must be issued in the same order on every process, and a graph that differs between
    processes produces gradients in a different order. Like DDP, the buckets start in the
    reverse of the parameters' order and are rebuilt once, after the first reduced backward,
    in the order rank 0's backward produced the gradients (the UNet's before the text
    encoders', whatever the parameters' order), so later buckets fill while backward still
    runs. Armed only for the last micro-batch of an optimizer step; `finish` launches what
    backward did not complete, waits, and writes the averages back. A parameter no process
    produced a gradient for keeps none, as with one process (AdamW then leaves it alone
    instead of decaying it): each bucket carries a flag per parameter."""

    def __init__(self, params: list[torch.Tensor], world: int, bucket_bytes: int = BUCKET_BYTES) -> None:
        self.params, self.world, self.bucket_bytes = list(params), world, bucket_bytes
        self.index_of = {id(p): index for index, p in enumerate(self.params)}
        self.observed: list[int] | None = []  # the first reduced backward's order, until the rebuild
        self._build(list(reversed(self.params)))
        self.armed = False
        self.inflight: dict[int, tuple[torch.Tensor, object]] = {}
        self.launched_in_backward = 0  # for tests and benchmarks: buckets that overlapped
        for param in self.params:
            param.register_post_accumulate_grad_hook(self._produced)

    def _build(self, ordered: list[torch.Tensor]) -> None:
        self.buckets: list[list[torch.Tensor]] = [[]]
        size = 0
        for param in ordered:
            if size and size + param.numel() * param.element_size() > self.bucket_bytes:
                self.buckets.append([])
                size = 0
            self.buckets[-1].append(param)
            size += param.numel() * param.element_size()
        self.bucket_of = {id(p): index for index, bucket in enumerate(self.buckets) for p in bucket}
        self.ready = [0] * len(self.buckets)
        self.next_launch = 0  # buckets before this one are launched

    def arm(self, armed: bool) -> None:
        self.armed = armed

    def _produced(self, param: torch.Tensor) -> None:
        if not self.armed:
            return
        if self.observed is not None:
            self.observed.append(self.index_of[id(param)])
        self.ready[self.bucket_of[id(param)]] += 1
        while self.next_launch < len(self.buckets) and self.ready[self.next_launch] == len(self.buckets[self.next_launch]):
            self._launch(self.next_launch)
            self.launched_in_backward += 1

    def _launch(self, index: int) -> None:
        import torch.distributed as dist

        bucket = self.buckets[index]
        grads = [(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in bucket]
        used = torch.tensor([float(p.grad is not None) for p in bucket], dtype=grads[0].dtype)
        if grads[0].device.type == "cuda":
            used = used.pin_memory().to(grads[0].device, non_blocking=True)
        flat = torch.cat([*grads, used])
        self.inflight[index] = (flat, dist.all_reduce(flat, async_op=True))
        self.next_launch = index + 1

    def finish(self, apply: bool = True) -> None:
        """Wait for every bucket; with `apply`, each gradient becomes the average."""
        for index in range(self.next_launch, len(self.buckets)):
            self._launch(index)
        done = sorted(self.inflight.items())
        for _, (_, handle) in done:
            handle.wait()
        if apply:
            # One read of every bucket's flags, after all gradients have arrived.
            flags = iter(torch.cat([flat[len(flat) - len(self.buckets[index]) :] for index, (flat, _) in done]).tolist())
            for index, (flat, _) in done:
                flat /= self.world
                offset = 0
                for param in self.buckets[index]:
                    param.grad = flat[offset : offset + param.numel()].view_as(param) if next(flags) else None
                    offset += param.numel()
        self.inflight.clear()
        self.armed = False
        if self.observed is not None:
            self._rebuild()
        self.ready = [0] * len(self.buckets)
        self.next_launch = 0

    def _rebuild(self) -> None:
        """Buckets in rank 0's production order (every rank the same), the parameters it
        never produced last."""
        import torch.distributed as dist

        order: list = [self.observed]
        dist.broadcast_object_list(order, src=0)
        seen = list(dict.fromkeys(order[0]))
        produced = set(seen)
        rest = [index for index in reversed(range(len(self.params))) if index not in produced]
        self._build([self.params[index] for index in seen + rest])
        self.observed = None
