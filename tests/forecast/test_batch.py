"""Batch size above 1: steps counted within buckets as sd-scripts counts them, the learning
rate left as set and said so, a faster batch offered only where this GPU holds it and it
saves real time, and a trainer that trains at the batch it was given."""

from __future__ import annotations

import json

from stylora_tui.config.build import build_config
from stylora_tui.dataset.buckets import count_steps
from stylora_tui.forecast.batch import LARGEST, batch_line, faster_batch
from stylora_tui.integrations.machine import Machine
from tests.conftest import run_cli
from tests.forecast.test_estimates import H100, NO_GPU, RTX_4090, practice


def _steps(batch: int, per_bucket=(30, 5), repeats: int = 2, epochs: int = 10):
    placements = [((1024, 1536), repeats)] * per_bucket[0] + [((1152, 896), repeats)] * per_bucket[1]
    return count_steps(placements, batch, epochs)


def test_steps_at_another_batch_are_counted_within_buckets():
    steps = _steps(1)
    # 60 and 10 draws per epoch: ceil(60/4) + ceil(10/4) = 15 + 3, not ceil(70/4) = 18 by luck
    assert steps.at_batch(4).steps_per_epoch == 18 and steps.at_batch(4).total_steps == 180
    assert steps.at_batch(7).steps_per_epoch == 9 + 2  # the short batches of both buckets count
    assert steps.at_batch(4) == _steps(4), "the same count as counting at that batch from the start"


def test_the_line_follows_the_batch_set():
    one, four = (
        batch_line(practice(epochs=10), _steps(1), NO_GPU),
        batch_line(practice(epochs=10, batch_size=4), _steps(4), NO_GPU),
    )
    assert one == "batch: 1 (700 steps)"
    assert four.startswith("batch: 4 (180 steps; 700 at batch 1)")
    assert "learning rate is not scaled with the batch" in four and "fewer steps move the adapter less" in four
    several = batch_line(practice(epochs=10, batch_size=4, gpus=2), _steps(4), NO_GPU)
    assert several.startswith("batch: 4 per GPU")


def test_a_faster_batch_is_offered_only_where_this_gpu_holds_it_and_it_pays():
    config = practice(epochs=10)
    better = faster_batch(config, _steps(1), H100)
    assert better is not None and 1 < better.batch_size <= LARGEST
    line = batch_line(config, _steps(1), H100)
    assert f"batch {better.batch_size} fits here: {better.total_steps} steps" in line
    assert "raise the rates or the epochs with it" in line
    assert faster_batch(config, _steps(1), NO_GPU) is None, "no GPU here: its gain is unknown"
    assert batch_line(config, _steps(1), NO_GPU) == "batch: 1 (700 steps)"
    # A 24 GiB card at 1024x1536 holds no larger batch than the one set, or gains too little.
    small = faster_batch(config, _steps(1), RTX_4090)
    assert (
        small is None
        or small.seconds <= 0.9 * faster_batch(practice(epochs=10, batch_size=small.batch_size), _steps(1), RTX_4090).seconds
    )


def test_a_gpu_without_figures_gets_no_offer_rather_than_another_cards():
    # At 512x512 the per-step overhead is a large share even on the slowest card in the
    # table, so another card's figures would offer a batch here.
    small = build_config({"model": {"path": "/models/full-size-sdxl.safetensors"}, "dataset": {"resolution_px": 512}})
    steps = _steps(1)
    assert faster_batch(small, steps, Machine(("NVIDIA GeForce RTX 3090",), 16, (81920.0,))) is not None
    unknown = Machine(("NVIDIA Quadro Mystery",), 16, (81920.0,))
    assert faster_batch(small, steps, unknown) is None
    assert batch_line(small, steps, unknown) == f"batch: 1 ({steps.total_steps} steps)"


def test_a_batch_is_never_offered_larger_than_the_fullest_bucket():
    tiny = _steps(1, per_bucket=(2, 1), repeats=1)  # 2 draws in the fullest bucket
    better = faster_batch(practice(epochs=10), tiny, H100)
    assert better is None or better.batch_size <= 2


def test_plan_json_says_the_batch_and_what_it_buys(tmp_path, practice_dataset):
    def plan(*extra):
        result = run_cli(
            "plan", "--model", "demo", "--dataset", str(practice_dataset), "--trigger", "stylorapractice",
            "--family", "animagine", "--runs-dir", str(tmp_path / "runs"), "--json", *extra,
        )  # fmt: skip
        assert result.returncode in (0, 1), result.stderr
        return json.loads(result.stdout)

    one, three = plan(), plan("--batch-size", "3")
    assert set(one["batch"]) == {"batch_size", "total_steps", "learning_rate_scaled", "faster"}
    assert one["batch"]["batch_size"] == 1 and three["batch"]["batch_size"] == 3
    assert one["batch"]["learning_rate_scaled"] is False and one["batch"]["faster"] is None  # no GPU here
    assert three["batch"]["total_steps"] == three["steps"]["total"] < one["steps"]["total"]
    assert three["steps"]["batches_per_epoch"] >= -(-one["steps"]["images_per_epoch"] // 3), "short batches per bucket count"
