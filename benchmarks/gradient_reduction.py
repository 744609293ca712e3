"""Gradient averaging over several processes: one all-reduce after backward against torch's
DistributedDataParallel as the trainer wires it (trainer/distributed.py: Group.replicate,
buckets all-reduced while backward runs), two CPU processes over gloo standing in for two
GPUs.

    python benchmarks/gradient_reduction.py [--layers 24] [--width 1024] [--steps 5]

A chain of linear layers stands in for the adapter (every parameter trainable); prints
seconds per step of forward + backward + averaging for both ways, alternated.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
import torch.multiprocessing as mp  # noqa: E402


def flat_average(params: list[torch.Tensor], world: int) -> None:
    from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors

    grads = [p.grad for p in params]
    flat = _flatten_dense_tensors(grads)
    dist.all_reduce(flat)
    flat /= world
    for param, synced in zip(params, _unflatten_dense_tensors(flat, grads)):
        param.grad = synced


def worker(rank: int, port: int, args, results) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE="2", LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    from accelerate import Accelerator

    from stylora_tui.trainer.distributed import Group, ddp_settings

    accelerator = Accelerator(cpu=True, kwargs_handlers=[ddp_settings()])
    group = Group(accelerator, accelerator.device)
    torch.manual_seed(0)
    model = torch.nn.Sequential(*[torch.nn.Linear(args.width, args.width) for _ in range(args.layers)])
    params = list(model.parameters())
    batch = torch.randn(args.batch, args.width)
    replicated = group.replicate(model)

    def step(ddp: bool) -> None:
        if ddp:
            replicated(lambda: model(batch).square().mean()).backward()
        else:
            model(batch).square().mean().backward()
            flat_average(params, 2)
        for param in params:
            param.grad = None

    timings = {}
    for ddp in (False, True, False, True):  # warm both, then time both
        dist.barrier()
        began = time.perf_counter()
        for _ in range(args.steps):
            step(ddp)
        timings[ddp] = (time.perf_counter() - began) / args.steps
    if rank == 0:
        results["flat"], results["ddp"] = timings[False], timings[True]
        results["mib"] = sum(p.numel() for p in params) * 4 / 2**20
    dist.destroy_process_group()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, default=24)
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    results = mp.Manager().dict()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mp.spawn(worker, args=(port, args, results), nprocs=2, join=True)
    print(f"2 processes (gloo, CPU), {args.layers} x Linear({args.width}), {results['mib']:.0f} MiB of fp32 gradients")
    print("| averaging | s/step |")
    print("| --- | --- |")
    print(f"| one all-reduce after backward | {results['flat']:.3f} |")
    print(f"| DistributedDataParallel (buckets during backward) | {results['ddp']:.3f} |")


if __name__ == "__main__":
    main()
