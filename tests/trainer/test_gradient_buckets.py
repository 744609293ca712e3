"""Gradients averaged over processes in buckets launched during backward (as DDP), here with
two CPU processes (gloo): the same averages as one all-reduce after backward, launched
before backward ends, with accumulation and unused parameters."""

from __future__ import annotations

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from stylora_tui.trainer.distributed import GradientBuckets


def _model(seed: int) -> torch.nn.Sequential:
    torch.manual_seed(seed)
    return torch.nn.Sequential(*[torch.nn.Linear(16, 16) for _ in range(6)], torch.nn.Linear(16, 4))


def _worker(rank: int, rendezvous: str, results) -> None:
    dist.init_process_group("gloo", init_method=f"file://{rendezvous}", rank=rank, world_size=2)
    try:
        model, unused = _model(0), torch.nn.Parameter(torch.ones(3))
        params = [*model.parameters(), unused]
        buckets = GradientBuckets(params, world=2, bucket_bytes=16 * 17 * 4 * 2)  # about two layers a bucket
        torch.manual_seed(100 + rank)
        batches = [torch.randn(5, 16) for _ in range(2)]
        for micro, batch in enumerate(batches):  # two micro-batches: reduce on the last only
            buckets.arm(micro == len(batches) - 1)
            (model(batch).square().mean() / len(batches)).backward()
        launched_in_backward = buckets.launched_in_backward
        buckets.finish()
        got = [p.grad.clone() for p in params]

        reference = _model(0)
        for batch in batches:
            (reference(batch).square().mean() / len(batches)).backward()
        expected = []
        for param in [*reference.parameters(), torch.nn.Parameter(torch.ones(3))]:
            grad = param.grad.clone() if param.grad is not None else torch.zeros_like(param)
            dist.all_reduce(grad)
            expected.append(grad / 2)
        results[rank] = (launched_in_backward, len(buckets.buckets), all(torch.equal(a, b) for a, b in zip(got, expected)))
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_buckets_average_like_one_all_reduce_and_launch_during_backward(tmp_path):
    results = mp.Manager().dict()
    mp.spawn(_worker, args=(str(tmp_path / "rendezvous"), results), nprocs=2, join=True)
    for rank in (0, 1):
        launched, buckets, equal = results[rank]
        assert equal, f"rank {rank}: the bucketed averages differ from one all-reduce"
        assert buckets >= 4
        # Every bucket but the one holding the unused parameter completes during backward.
        assert launched == buckets - 1
