"""Gradients averaged over processes in buckets launched during backward (as DDP), here with
two CPU processes (gloo): the same averages as one all-reduce after backward, launched
before backward ends, with accumulation and unused parameters, and in the same order on
every process when their graphs differ."""

from __future__ import annotations

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from stylora_tui.trainer.distributed import GradientBuckets


def _model(seed: int) -> torch.nn.Sequential:
    torch.manual_seed(seed)
    return torch.nn.Sequential(*[torch.nn.Linear(16, 16) for _ in range(6)], torch.nn.Linear(16, 4))


def _forward(model, batch, rank: int, differ: bool):
    """With `differ`, rank 1 runs the hidden layers in reverse: its backward produces the
    gradients of the first layers first, the buckets' opposite order."""
    layers = list(model)
    if differ and rank == 1:
        layers = layers[-2::-1] + layers[-1:]
    for layer in layers:
        batch = layer(batch)
    return batch


def _worker(rank: int, rendezvous: str, results, differ: bool) -> None:
    dist.init_process_group("gloo", init_method=f"file://{rendezvous}", rank=rank, world_size=2)
    try:
        model, unused = _model(0), torch.nn.Parameter(torch.ones(3))
        params = [*model.parameters(), unused]
        buckets = GradientBuckets(params, world=2, bucket_bytes=16 * 17 * 4 * 2)  # about two layers a bucket
        reference = _model(0)
        torch.manual_seed(100 + rank)
        steps = []
        for _step in range(2):  # the second after the buckets are rebuilt in backward's order
            batches = [torch.randn(5, 16) for _ in range(2)]
            buckets.launched_in_backward = 0
            for micro, batch in enumerate(batches):  # two micro-batches: reduce on the last only
                buckets.arm(micro == len(batches) - 1)
                (_forward(model, batch, rank, differ).square().mean() / len(batches)).backward()
            launched_in_backward = buckets.launched_in_backward
            buckets.finish()
            got = [p.grad.clone() if p.grad is not None else None for p in params]
            model.zero_grad(set_to_none=True)

            for batch in batches:
                (_forward(reference, batch, rank, differ).square().mean() / len(batches)).backward()
            expected = []
            for param in reference.parameters():
                grad = param.grad.clone()
                dist.all_reduce(grad)
                expected.append(grad / 2)
            expected.append(None)  # no process used it: no gradient, as with one process
            reference.zero_grad(set_to_none=True)
            same = all(
                (a is None and b is None) or (a is not None and b is not None and torch.allclose(a, b, rtol=1e-6, atol=1e-7))
                for a, b in zip(got, expected)
            )
            steps.append((launched_in_backward, len(buckets.buckets), same))
        results[rank] = steps
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
@pytest.mark.parametrize("differ", [False, True], ids=["same-graph", "rank-dependent-graph"])
def test_buckets_average_like_one_all_reduce_and_launch_during_backward(tmp_path, differ):
    results = mp.Manager().dict()
    mp.spawn(_worker, args=(str(tmp_path / "rendezvous"), results, differ), nprocs=2, join=True)
    for rank in (0, 1):
        for step, (_launched, buckets, equal) in enumerate(results[rank]):
            assert equal, f"rank {rank}, step {step}: the bucketed averages differ from one all-reduce"
            assert buckets >= 4
        launched, buckets, _ = results[rank][1]
        if not differ or rank == 0:
            # Rebuilt in backward's order: every bucket but the one holding the unused
            # parameter (now last) completes during backward.
            assert launched == buckets - 1, results[rank]
