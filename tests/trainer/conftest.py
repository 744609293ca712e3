from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stylora_tui.config.build import build_config
from stylora_tui.integrations.machine import Machine
from stylora_tui.launch.prepare import prepare_run
from stylora_tui.paths import examples_dir
from stylora_tui.run.layout import RunDir

CPU_ONLY = Machine((), 2)


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory) -> Path:
    """One cache for the session: the demo model and latents are built once."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def cache_env(shared_cache, monkeypatch) -> dict:
    monkeypatch.setenv("XDG_CACHE_HOME", str(shared_cache))
    return {"XDG_CACHE_HOME": str(shared_cache)}


@pytest.fixture
def dataset(tmp_path) -> Path:
    """A copy of the demo dataset, so tests can check it is never modified."""
    import shutil

    target = tmp_path / "data"
    shutil.copytree(examples_dir() / "demo-style", target)
    return target


def demo_config(dataset: Path, /, **sections) -> object:
    data = {
        "model": {"path": "demo", "family": "animagine"},
        "dataset": {
            "path": str(dataset),
            "repeats": 1,
            "resolution_px": [128, 192],
            "min_bucket_px": 64,
            "max_bucket_px": 256,
            "bucket_step_px": 32,
        },
        "captions": {"trigger": "stylorademostyle"},
        "network": {"dim": 4, "alpha": 2, "conv_dim": 4, "conv_alpha": 2},
        "optimizer": {"unet_lr": 1e-3, "text_encoder_lr": 5e-4},
        "scheduler": {"warmup_ratio": 0.1},
        "training": {"epochs": 2, "mixed_precision": "no", "gradient_checkpointing": False, "seed": 7},
        "saving": {"every_n_epochs": 1, "precision": "fp32", "checkpoint_every_minutes": 0},
        # The shipped stand-in: CSD itself would be fetched from the hub, which tests never reach.
        # Previews at other strengths after the last epoch are two more renders: asked for
        # where a test looks at them.
        "samples": {"style_model": "demo", "suggest_strengths": []},
    }
    for section, values in sections.items():
        data.setdefault(section, {}).update(values)
    return build_config(data)


def prepare(tmp_path: Path, config, name: str) -> RunDir:
    return prepare_run(config, tmp_path / "runs", name, machine=CPU_ONLY, allow_cpu=True).run


def merged(sections: dict, extra: dict) -> dict:
    """`sections` with each of `extra`'s sections laid over its own."""
    return {**sections, **{name: {**sections.get(name, {}), **values} for name, values in extra.items()}}


def in_process(tmp_path: Path, config, name: str):
    """A prepared run's trainer session and loop in this process, for tests that wrap or
    count what the loop calls: (session, loop)."""
    from stylora_tui.trainer.loop import Loop
    from stylora_tui.trainer.seams import Intents, Reporter, Signals
    from stylora_tui.trainer.session import open_session

    run = prepare(tmp_path, config, name)
    intents, reporter = Intents(run, Signals()), Reporter(None, None)
    session = open_session(run, config, intents, reporter)
    return session, Loop(session, intents, reporter)


def trainer(run: RunDir, env: dict, wait: bool = True) -> subprocess.Popen | subprocess.CompletedProcess:
    command = [sys.executable, "-m", "stylora_tui.trainer", str(run.path)]
    full_env = {**os.environ, **env}
    if wait:
        return subprocess.run(command, env=full_env, capture_output=True, text=True, timeout=600)
    return subprocess.Popen(command, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def events(run: RunDir) -> list[dict]:
    if not run.events.exists():
        return []
    return [json.loads(line) for line in run.events.read_text().splitlines() if line.strip()]


def wait_for(predicate, timeout: float = 120, every: float = 0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("timed out waiting")


@pytest.fixture(scope="session")
def full_tree(tmp_path_factory) -> dict[str, Path]:
    """SDXL's full module tree at tiny widths: a diffusers folder, its single-file twin in the
    original layout (as CivitAI ships models), the same file marked v-prediction + zero
    terminal SNR (as NoobAI-XL V-Pred is), and a v-prediction diffusers folder."""
    import shutil

    from stylora_tui.trainer.demo_model import FULL_TREE_OVERRIDES, V_PREDICTION_SCHEDULER, build_model
    from stylora_tui.trainer.single_file import write_single_file

    root = tmp_path_factory.mktemp("full-tree")
    folder = build_model(root / "sdxl-full-tree", FULL_TREE_OVERRIDES)
    vpred_folder = root / "noobai-vpred-diffusers"
    shutil.copytree(folder, vpred_folder)
    scheduler_file = vpred_folder / "scheduler" / "scheduler_config.json"
    scheduler_file.write_text(json.dumps({**json.loads(scheduler_file.read_text()), **V_PREDICTION_SCHEDULER}))
    return {
        "folder": folder,
        "single_file": write_single_file(folder, root / "sdxl-full-tree.safetensors"),
        "vpred_file": write_single_file(
            folder, root / "noobaiXLVpred-full-tree.safetensors", v_prediction=True, zero_terminal_snr=True
        ),
        "vpred_folder": vpred_folder,
    }
