"""A base model by name, end to end against a local fake hub: `train --model org/repo`
downloads, trains, and trains again offline; a known base brings its family and its
prediction type."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.conftest import run_cli
from tests.fakehub import FakeHub

pytestmark = pytest.mark.slow


@pytest.fixture
def hub_env(tmp_path, cache_env):
    server = FakeHub()
    env = {**cache_env, "HF_ENDPOINT": server.url, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_DISABLE_TELEMETRY": "1"}
    yield server, env
    server.close()


def folder_files(folder):
    return {str(p.relative_to(folder)): p for p in folder.rglob("*") if p.is_file()}


def test_train_downloads_a_diffusers_repo_then_trains_again_offline(tmp_path, dataset, hub_env):
    from stylora_tui.trainer.demo_model import demo_model_dir

    server, env = hub_env
    server.add("artist/sdxl-tiny", {**folder_files(demo_model_dir()), "README.md": b"# a tiny SDXL"})
    args = (
        "train",
        "--model",
        "artist/sdxl-tiny",
        "--family",
        "animagine",
        "--preset",
        "demo",
        "--dataset",
        str(dataset),
        "--trigger",
        "stylorademostyle",
        "--max-steps",
        "2",
        "--set",
        "samples.every_n_epochs=0",
        "--allow-cpu",
        "--runs-dir",
        str(tmp_path / "runs"),
    )
    first = run_cli(*args, "--run", "online", env=env, timeout=600)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    frozen = (tmp_path / "runs" / "online" / "config.toml").read_text()
    snapshot = tmp_path / "hf" / "hub" / "models--artist--sdxl-tiny" / "snapshots"
    assert str(snapshot) in frozen  # the run trained from the downloaded folder
    assert (tmp_path / "runs" / "online" / "output" / "online.safetensors").is_file()
    asked = len(server.requests)
    second = run_cli(*args, "--run", "offline", env={**env, "HF_HUB_OFFLINE": "1"}, timeout=600)
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
    assert len(server.requests) == asked and (tmp_path / "runs" / "offline" / "output" / "offline.safetensors").is_file()


def test_a_known_base_by_name_brings_its_family_and_prediction(tmp_path, full_tree, hub_env):
    server, env = hub_env
    # NoobAI's v-prediction repo, as the hub has it: one checkpoint at the root beside other files.
    server.add("Laxhar/noobai-XL-Vpred-1.0", {"NoobAI-XL-Vpred-v1.0.safetensors": full_tree["vpred_file"], "README.md": b"#"})
    result = run_cli(
        "plan", "--model", "noobai-xl-vpred-1.0", "--json", "--runs-dir", str(tmp_path / "runs"), env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads(result.stdout)  # the progress went to stderr: stdout is the JSON alone
    assert data["model"].endswith("NoobAI-XL-Vpred-v1.0.safetensors") and data["family"] == "noobai"
    assert data["prediction"]["type"] == "v_prediction" and data["prediction"]["zero_terminal_snr"] is True
    shutil.rmtree(tmp_path / "hf")  # the download record points at a file that is gone: fetched again
    again = run_cli(
        "plan", "--model", "noobai-xl-vpred-1.0", "--json", "--runs-dir", str(tmp_path / "runs"), env=env, timeout=300
    )
    assert again.returncode == 0 and json.loads(again.stdout)["model"] == data["model"]
