"""The GPU acceptance script, dry: its plumbing runs end to end here, so the first minutes of
a lent GPU go to figures, not to fixing the script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_acceptance.sh"


@pytest.mark.slow
def test_the_dry_run_writes_every_section(tmp_path):
    out = tmp_path / "acceptance.md"
    env = {**os.environ, "PYTHON": sys.executable, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        ["bash", str(SCRIPT), "--dry-run", "--out", str(out), "--workdir", str(tmp_path / "work")],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    text = out.read_text()
    for heading in (
        "## GPU tests (pytest -m gpu)",
        "## Loop benchmark: demo at 128x192, real against bare",
        "## Loop benchmark: demo at 128x192, compiled blocks",
        "## Practice run: 5 steps",
        "## Practice run at batch 2: 5 steps",
        "## Optimizer step: the demo adapter at dim 4, per tensor against flat",
    ):
        assert heading in text, text
    assert "| bare |" in text and "| real |" in text, text
    assert "| s/step |" in text and "| peak VRAM (torch) |" in text, text
    assert "| per tensor |" in text and "| flat |" in text, text
    practice, batch2 = text.split("## Practice run: 5 steps")[1], text.split("## Practice run at batch 2")[1]
    assert ", batch 1, " in practice.split("## ")[0] and ", batch 2, " in batch2.split("## ")[0], text
    # The practice runs are the real loop alone: estimates_check reads their run folders.
    assert text.index("## Practice run: 5 steps") < text.index("compiled blocks"), "compiled blocks come last"


def test_it_refuses_unknown_arguments_and_a_machine_without_a_gpu(tmp_path):
    env = {**os.environ, "PYTHON": sys.executable, "PYTHONPATH": str(ROOT)}
    wrong = subprocess.run(["bash", str(SCRIPT), "--fast"], capture_output=True, text=True, env=env, timeout=60)
    assert wrong.returncode == 2 and "unknown argument --fast" in wrong.stderr
    usage = subprocess.run(["bash", str(SCRIPT), "--help"], capture_output=True, text=True, env=env, timeout=60)
    assert usage.stdout.startswith("Everything a GPU machine") and "set -e" not in usage.stdout
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    out = tmp_path / "acceptance.md"
    refused = subprocess.run(["bash", str(SCRIPT), "--out", str(out)], capture_output=True, text=True, env=env, timeout=120)
    assert refused.returncode == 1 and "--dry-run" in refused.stderr
    assert not out.exists()


def test_the_device_wheels_script_says_what_to_do(tmp_path):
    """Its usage, a wrong argument, and --install on a machine the wheels were not carried to."""
    import shutil

    (tmp_path / "benchmarks").mkdir()
    script = shutil.copy(ROOT / "benchmarks" / "device_wheels.sh", tmp_path / "benchmarks")
    usage = subprocess.run(["bash", script, "--help"], capture_output=True, text=True, timeout=60)
    assert usage.returncode == 0 and usage.stdout.startswith("The packages a lent GPU machine") and "set -e" not in usage.stdout
    wrong = subprocess.run(["bash", script, "--fast"], capture_output=True, text=True, timeout=60)
    assert wrong.returncode == 2 and "unknown argument --fast" in wrong.stderr
    bare = subprocess.run(["bash", script, "--install"], capture_output=True, text=True, timeout=60)
    assert bare.returncode == 1 and "no wheels in .device-wheels" in bare.stderr and "carry" in bare.stderr
