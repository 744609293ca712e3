"""Pre-flight: what would fail or waste hours is refused before a trainer starts."""

from __future__ import annotations

import json

import pytest

from stylora_tui.config.build import build_config
from stylora_tui.integrations.machine import Machine
from stylora_tui.launch.preflight import check, step_seconds_on_cpu
from tests.conftest import FIXTURES, run_cli

H100 = Machine(("NVIDIA H100 80GB HBM3",), 16)


def codes(config, machine, steps=None):
    return [f.code for f in check(config, machine, steps)]


def test_adamw8bit_needs_cuda_and_prodigy_its_package(monkeypatch):
    eight_bit = build_config({"model": {"path": "/m.safetensors"}, "optimizer": {"name": "AdamW8bit"}})
    assert "optimizer-needs-cuda" in codes(eight_bit, Machine((), 8))
    monkeypatch.setattr("stylora_tui.launch.preflight._installed", lambda module: False)
    assert codes(eight_bit, H100) == ["optimizer-missing"]
    prodigy = build_config({"model": {"path": "/m.safetensors"}, "optimizer": {"name": "Prodigy"}})
    assert codes(prodigy, H100) == ["optimizer-missing"]
    monkeypatch.setattr("stylora_tui.launch.preflight._installed", lambda module: True)
    assert codes(eight_bit, H100) == [] and codes(prodigy, H100) == []


def test_a_real_model_on_a_cpu_is_refused_with_its_duration_but_the_demo_is_not():
    real = build_config({"model": {"path": "/models/animagine.safetensors"}, "dataset": {"resolution_px": [1024, 1536]}})
    finding = check(real, Machine((), 16), 9000)[0]
    assert finding.code == "cpu-training" and "9000 steps" in finding.message and "days" in finding.message
    assert "--allow-cpu" in finding.hint
    assert codes(build_config({"model": {"path": "demo"}}), Machine((), 2)) == []
    assert step_seconds_on_cpu(real, Machine((), 32)) < step_seconds_on_cpu(real, Machine((), 2))


def test_more_gpus_than_the_machine_has():
    config = build_config({"model": {"path": "/m.safetensors"}, "training": {"gpus": 4}})
    assert codes(config, H100) == ["not-enough-gpus"]


@pytest.fixture
def eight_bit_preset(tmp_path):
    out = tmp_path / "from-kohya.toml"
    result = run_cli("import-kohya", str(FIXTURES / "kohya" / "sdxl-locon-style.json"), "-o", str(out))
    assert result.returncode == 0, result.stderr
    return out


def test_plan_refuses_an_imported_adamw8bit_preset_on_a_machine_without_cuda(eight_bit_preset):
    result = run_cli("plan", "--model", "demo", "--preset", str(eight_bit_preset))
    assert result.returncode == 1
    assert "AdamW8bit needs an NVIDIA GPU" in result.stdout and 'optimizer.name = "AdamW"' in result.stdout
    data = json.loads(run_cli("plan", "--model", "demo", "--preset", str(eight_bit_preset), "--json").stdout)
    assert [p["code"] for p in data["preflight"]] == ["optimizer-needs-cuda"]


def test_train_refuses_before_any_run_exists(eight_bit_preset, tmp_path):
    runs = tmp_path / "runs"
    result = run_cli("train", "--model", "demo", "--preset", str(eight_bit_preset), "--runs-dir", str(runs), "--detach")
    assert result.returncode == 1
    assert "error: optimizer AdamW8bit needs an NVIDIA GPU" in result.stderr and "hint:" in result.stderr
    assert not runs.exists() or not any(runs.iterdir()), "nothing was created"


def test_train_on_a_cpu_needs_allow_cpu(tmp_path, practice_dataset):
    from tests.conftest import SDXL, fake_safetensors

    model = fake_safetensors(tmp_path / "animagineXL.safetensors", SDXL)
    runs = tmp_path / "runs"
    result = run_cli(
        "train",
        "--model",
        str(model),
        "--dataset",
        str(practice_dataset),
        "--trigger",
        "stylorapractice",
        "--runs-dir",
        str(runs),
        "--detach",
    )
    assert result.returncode == 1
    assert "no NVIDIA GPU found" in result.stderr and "--allow-cpu" in result.stderr
    assert not runs.exists() or not any(runs.iterdir())
