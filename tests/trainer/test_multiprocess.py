"""Data-parallel training with two processes on the CPU (gloo), as on several GPUs.

torchrun stands in for `accelerate launch --multi_gpu`: both set the same environment
(RANK, WORLD_SIZE, ...) that the trainer and accelerate read.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from stylora_tui.run import control
from tests.trainer.conftest import demo_config, events, prepare, wait_for

pytestmark = pytest.mark.slow


def torchrun(run, env, wait=True):
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "stylora_tui.trainer",
        str(run.path),
    ]
    full_env = {**os.environ, **env, "OMP_NUM_THREADS": "1"}
    if wait:
        return subprocess.run(command, env=full_env, capture_output=True, text=True, timeout=900)
    return subprocess.Popen(command, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def test_two_processes_split_the_epoch_and_resume_exactly(tmp_path, dataset, cache_env):
    extra = dict(training={"epochs": 2, "gpus": 2, "seed": 5}, captions={"shuffle": True})
    straight = prepare(tmp_path, demo_config(dataset, **extra), "straight")
    result = torchrun(straight, cache_env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    log = events(straight)
    started = next(e for e in log if e["type"] == "run.started")
    assert started["gpus"] == 2 and started["total_steps"] == 8, "8 images x 1 repeat / 2 processes x 2 epochs"
    assert sum(1 for e in log if e["type"] == "run.finished") == 1, "one writer: rank 0"
    assert json.loads(straight.status_file.read_text())["state"] == "finished"

    interrupted = prepare(tmp_path, demo_config(dataset, **extra), "interrupted")
    process = torchrun(interrupted, cache_env, wait=False)
    wait_for(lambda: any(e["type"] == "train.step" and e["step"] >= 2 for e in events(interrupted)), timeout=300)
    control.request(interrupted, control.STOP)
    assert process.wait(timeout=300) == 0
    checkpoint = next(e for e in events(interrupted) if e["type"] == "run.stopped")["checkpoint"]
    assert (interrupted.path / checkpoint / "rng-1.pt").is_file(), "each process's RNG is in the checkpoint"
    assert torchrun(interrupted, cache_env).returncode == 0
    a = load_file(str(straight.output / "straight.safetensors"))
    b = load_file(str(interrupted.output / "interrupted.safetensors"))
    for key in a:
        assert torch.equal(a[key], b[key]), key
