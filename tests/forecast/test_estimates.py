"""Time and GPU-memory estimates before a run, and gradient checkpointing "auto" decided by
the card's memory."""

from __future__ import annotations

import json

from stylora_tui.config.build import build_config
from stylora_tui.forecast.estimates import checkpointing, durations, peak_vram_gib, summary_lines
from stylora_tui.integrations.machine import Machine
from tests.conftest import run_cli

H100 = Machine(("NVIDIA H100 80GB HBM3",), 16, (81559.0,))
RTX_4090 = Machine(("NVIDIA GeForce RTX 4090",), 16, (24564.0,))
A100_40 = Machine(("NVIDIA A100-SXM4-40GB",), 16, (40960.0,))
NO_GPU = Machine((), 2)


def practice(**training):
    return build_config(
        {
            "model": {"path": "/models/full-size-sdxl.safetensors"},
            "dataset": {"resolution_px": [1024, 1536]},
            "training": training,
        }
    )


def test_auto_checkpointing_follows_the_cards_memory_and_a_choice_is_kept():
    auto = practice()
    assert auto.training.gradient_checkpointing == "auto"
    assert checkpointing(auto, 80) is False  # an H100 holds the step without recomputation
    assert checkpointing(auto, 24) is True  # a 4090 does not
    assert checkpointing(auto, None) is False  # a CPU has the memory; compute is short
    assert checkpointing(practice(gradient_checkpointing=True), 80) is True
    assert checkpointing(practice(gradient_checkpointing=False), 24) is False
    # A bigger batch needs more memory: a 48 GiB card flips from off to on.
    assert checkpointing(practice(batch_size=1), 48) is False
    assert checkpointing(practice(batch_size=4), 48) is True


def test_estimates_grow_with_what_costs_compute_and_memory():
    small = build_config({"model": {"path": "/m.safetensors"}, "dataset": {"resolution_px": [1024, 1024]}})
    large = build_config({"model": {"path": "/m.safetensors"}, "dataset": {"resolution_px": [1024, 1536]}})
    assert peak_vram_gib(large, True) > peak_vram_gib(small, True)
    assert peak_vram_gib(large, False) > peak_vram_gib(large, True)
    seconds = {d.card: d.seconds for d in durations(large, 1000, NO_GPU)}
    assert seconds["RTX 3090"] > seconds["RTX 4090"] > seconds["H100"]
    doubled = {d.card: d.seconds for d in durations(large, 2000, NO_GPU)}
    assert doubled["RTX 4090"] == 2 * seconds["RTX 4090"]
    batch4 = build_config(
        {"model": {"path": "/m.safetensors"}, "dataset": {"resolution_px": [1024, 1536]}, "training": {"batch_size": 4}}
    )
    assert {d.card: d.seconds for d in durations(batch4, 1000, NO_GPU)}["H100"] > seconds["H100"]


def test_this_machines_card_comes_first_with_its_own_memory():
    config = practice(batch_size=2)
    first = durations(config, 1000, A100_40)[0]
    table_a100 = next(d for d in durations(config, 1000, H100) if d.card == "A100")
    # NVML says 40 GiB: the 80 GiB table entry must not decide for it.
    assert first.card == "A100" and first.checkpointing is True and table_a100.checkpointing is False
    lines = summary_lines(practice(), 1000, RTX_4090)
    assert lines[0].startswith("GPU memory: about ") and "RTX 4090 (24 GiB) it fits" in lines[0]
    assert lines[1].startswith("time: RTX 4090 ") and "not measured" in lines[1]


def test_a_card_too_small_is_told_what_to_lower():
    config = practice(gradient_checkpointing=False, batch_size=2)
    line = summary_lines(config, None, RTX_4090)[0]
    assert "does not fit" in line and "turn on training.gradient_checkpointing" in line and "training.batch_size (now 2)" in line
    assert len(summary_lines(config, None, RTX_4090)) == 1  # no step count, no time line


def test_plan_reports_estimates_and_they_follow_the_settings(tmp_path, practice_dataset):
    def plan(*extra):
        result = run_cli(
            "plan",
            "--model",
            "demo",
            "--dataset",
            str(practice_dataset),
            "--trigger",
            "stylorapractice",
            "--family",
            "animagine",
            "--runs-dir",
            str(tmp_path / "runs"),
            "--json",
            *extra,
        )
        assert result.returncode in (0, 1), result.stderr
        return json.loads(result.stdout)["estimates"]

    auto, forced_off = plan(), plan("--set", "training.gradient_checkpointing=false")
    assert set(auto) == {"gradient_checkpointing", "peak_vram_gib", "durations", "price_per_hour", "cost"}
    assert auto["cost"] is None, "no GPU here, so no estimate of this machine's cost"
    assert {"gpu", "seconds", "fits", "gradient_checkpointing"} == set(auto["durations"][0])
    forced_on = plan("--set", "training.gradient_checkpointing=true")
    assert forced_off["gradient_checkpointing"] is False and forced_on["gradient_checkpointing"] is True
    assert all(d["gradient_checkpointing"] for d in forced_on["durations"])
    longer = plan("--epochs", "300")
    assert longer["durations"][0]["seconds"] > auto["durations"][0]["seconds"]
    text = run_cli(
        "plan",
        "--model",
        "demo",
        "--dataset",
        str(practice_dataset),
        "--trigger",
        "stylorapractice",
        "--family",
        "animagine",
        "--runs-dir",
        str(tmp_path / "runs"),
    ).stdout
    assert "GPU memory: about" in text and "time: RTX 3090" in text


def test_the_cost_follows_the_price_and_the_machine():
    from stylora_tui.config.build import build_config
    from stylora_tui.forecast.estimates import summary_lines

    config = build_config({"model": {"family": "animagine"}})
    cheap = [line for line in summary_lines(config, 3000, H100, price_per_hour=1.0) if line.startswith("cost")]
    dear = [line for line in summary_lines(config, 3000, H100, price_per_hour=3.0) if line.startswith("cost")]
    assert cheap and dear and cheap != dear and "$3.00/h" in dear[0]
    assert not [line for line in summary_lines(config, 3000, H100) if line.startswith("cost")], "no price, no cost"
    assert not [line for line in summary_lines(config, 3000, Machine(), price_per_hour=1.0) if line.startswith("cost")]
