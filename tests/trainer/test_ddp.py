"""The adapter's gradients averaged over processes by torch's DistributedDataParallel, as the
trainer wires it (Group.replicate, Group.accumulating), with two CPU processes over gloo
standing in for two GPUs: the averages of one all-reduce over every micro-batch, with
accumulation, when the processes' graphs differ, and a parameter no process used keeping no
gradient, as with one process."""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp


class Adapter(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.layers = torch.nn.ModuleList([torch.nn.Linear(16, 16) for _ in range(6)])
        self.head = torch.nn.Linear(16, 4)
        self.unused = torch.nn.Parameter(torch.ones(3))  # no process's graph reaches it


def _forward(adapter: Adapter, batch: torch.Tensor, rank: int, differ: bool) -> torch.Tensor:
    """With `differ`, rank 1 runs the hidden layers in reverse and skips the first: its
    backward produces gradients in another order, and one layer only rank 0 uses."""
    layers = list(adapter.layers)
    if differ and rank == 1:
        layers = layers[:0:-1]
    for layer in layers:
        batch = layer(batch)
    return adapter.head(batch).square().mean()


def _group(rank: int, port: int, mixed_precision: str = "no"):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE="2", LOCAL_RANK=str(rank))
    from accelerate import Accelerator

    from stylora_tui.trainer.distributed import Group, ddp_settings

    accelerator = Accelerator(cpu=True, mixed_precision=mixed_precision, kwargs_handlers=[ddp_settings()])
    return Group(accelerator, accelerator.device)


def _worker(rank: int, port: int, results, differ: bool) -> None:
    group = _group(rank, port)
    adapter, reference = Adapter(), Adapter()
    replicated = group.replicate(adapter)
    torch.manual_seed(100 + rank)
    steps = []
    for _step in range(3):  # DDP rebuilds its buckets after the first
        batches = [torch.randn(5, 16) for _ in range(2)]
        for micro, batch in enumerate(batches):  # two micro-batches: averaged on the last only
            with group.accumulating(replicated, last=micro == len(batches) - 1):
                loss = replicated(lambda batch=batch: _forward(adapter, batch, rank, differ))
                (loss / len(batches)).backward()
        got = {n: p.grad.clone() if p.grad is not None else None for n, p in adapter.named_parameters()}
        adapter.zero_grad(set_to_none=True)
        for batch in batches:
            (_forward(reference, batch, rank, differ) / len(batches)).backward()
        expected = {}
        for name, param in reference.named_parameters():
            grad = param.grad.clone() if param.grad is not None else torch.zeros_like(param)
            dist.all_reduce(grad)
            expected[name] = grad / 2
        expected["unused"] = None  # no process used it: no gradient, as with one process
        reference.zero_grad(set_to_none=True)
        steps.append(
            [
                name
                for name, grad in got.items()
                if not (
                    (grad is None and expected[name] is None)
                    or (
                        grad is not None
                        and expected[name] is not None
                        and torch.allclose(grad, expected[name], rtol=1e-5, atol=1e-7)
                    )
                )
            ]
        )
    results[rank] = (type(replicated).__name__, steps)
    dist.destroy_process_group()


def _autocast_worker(rank: int, port: int, results) -> None:
    group = _group(rank, port, mixed_precision="bf16")
    replicated = group.replicate(Adapter())
    with torch.no_grad():
        autocast = replicated(lambda: torch.tensor(float(torch.is_autocast_enabled("cpu"))))
    results[rank] = (type(replicated).__name__, bool(autocast))
    dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
@pytest.mark.parametrize("differ", [False, True], ids=["same-graph", "rank-dependent-graph"])
def test_ddp_averages_like_one_all_reduce_over_the_step(differ):
    results = mp.Manager().dict()
    mp.spawn(_worker, args=(_free_port(), results, differ), nprocs=2, join=True)
    for rank in (0, 1):
        wrapper, steps = results[rank]
        assert wrapper == "DistributedDataParallel"
        assert steps == [[], [], []], f"rank {rank}: these gradients differ from one all-reduce's average, by step: {steps}"


@pytest.mark.slow
def test_the_computation_is_not_put_under_accelerates_autocast():
    # accelerate wraps a prepared model's forward in autocast under mixed precision; the
    # loss computation autocasts what it should itself, as with one GPU (no wrapper there).
    results = mp.Manager().dict()
    mp.spawn(_autocast_worker, args=(_free_port(), results), nprocs=2, join=True)
    assert results[0] == ("DistributedDataParallel", False), results[0]
