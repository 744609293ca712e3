"""What only a GPU shows: bf16 training with random crops (latents encoded on the device mid-run),
and no host sync inside the step but the one loss read. Deselected by default (`-m 'not gpu'`); on a GPU machine: `python -m pytest -m gpu`."""

from __future__ import annotations

import warnings

import pytest
import torch
from safetensors.torch import load_file

from stylora_tui.trainer.loop import Loop
from tests.trainer.conftest import demo_config, events, in_process, merged, prepare, trainer

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs an NVIDIA GPU")]

QUIET = {"saving": {"every_n_epochs": 0}, "samples": {"every_n_epochs": 0}}


def test_bf16_random_crop_run_trains_on_the_gpu(tmp_path, dataset, cache_env):
    # Square training without buckets leaves each demo image spare pixels to crop; random
    # crops are encoded by the VAE on the GPU during the step, not read from the cache.
    config = demo_config(
        dataset,
        dataset={"enable_buckets": False, "resolution_px": 128, "random_crop": True},
        training={"epochs": 2, "mixed_precision": "bf16"},
    )
    run = prepare(tmp_path, config, "crop")
    result = trainer(run, cache_env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    started = next(e for e in events(run) if e["type"] == "run.started")
    assert started["device"].startswith("cuda") and started["mixed_precision"] == "bf16"
    weights = load_file(str(run.output / "crop.safetensors"))
    assert weights and all(torch.isfinite(t.float()).all() for t in weights.values())


def step_path_syncs(session, loop: Loop) -> list[str]:
    """Runs the loop with CUDA's sync debug mode on inside the step (the batch, backward,
    the optimizer step) from the second step on; returns the warnings it raised."""
    caught: list[str] = []
    calls = {"optimizer_step": 0}

    def checked(function, name):
        def run(*args, **kwargs):
            if calls["optimizer_step"] == 0:
                return function(*args, **kwargs)  # the first step initialises kernels and handles
            torch.cuda.set_sync_debug_mode("warn")
            try:
                with warnings.catch_warnings(record=True) as found:
                    warnings.simplefilter("always")
                    return function(*args, **kwargs)
            finally:
                torch.cuda.set_sync_debug_mode("default")
                caught.extend(f"{name}: {w.message}" for w in found)

        return run

    optimizer_step = loop.optimizer_step

    def counted_optimizer_step(*args, **kwargs):
        try:
            return checked(optimizer_step, "optimizer_step")(*args, **kwargs)
        finally:
            calls["optimizer_step"] += 1

    loop.batch_loss = checked(loop.batch_loss, "batch_loss")
    loop.optimizer_step = counted_optimizer_step
    session.accelerator.backward = checked(session.accelerator.backward, "backward")
    loop.run()
    return caught


@pytest.mark.parametrize("extra", [{}, {"training": {"gradient_accumulation_steps": 2, "scale_weight_norms": 1.0}}])
def test_the_step_path_never_waits_for_the_gpu(tmp_path, dataset, cache_env, extra):
    config = demo_config(
        dataset, **merged({"training": {"epochs": 1, "max_steps": 4, "mixed_precision": "bf16"}, **QUIET}, extra)
    )
    syncs = step_path_syncs(*in_process(tmp_path, config, "syncs"))
    assert syncs == [], syncs


@pytest.mark.parametrize("checkpointing", [False, True])
def test_half_precision_copies_on_the_gpu_train_what_per_module_casts_do(checkpointing, monkeypatch):
    """CUDA's multi-tensor copy casting fp32 to bf16 (the path no CPU takes), against each
    module casting for itself: the same adapter (to CUDA's run-to-run rounding), and the
    casts gone from the step."""
    from tests.trainer.test_bypass import _two_steps

    first, second, grads, casts, network = _two_steps(True, checkpointing, monkeypatch, device="cuda")
    ref_first, ref_second, ref_grads, ref_casts, _ = _two_steps(False, checkpointing, monkeypatch, device="cuda")
    assert not torch.equal(first, second)
    torch.testing.assert_close(second, ref_second, rtol=1e-2, atol=1e-3)
    for key in grads:
        if ref_grads[key].abs().sum() > 0:
            assert torch.nn.functional.cosine_similarity(grads[key], ref_grads[key], dim=0) > 0.9999, key
    linear = sum(isinstance(m.lora.org_module[0], torch.nn.Linear) for m in network.modules_by_key.values())
    assert ref_casts["_to_copy"] - casts["_to_copy"] >= 2 * linear


def test_the_move_to_the_gpu_keeps_each_up_transposed():
    from tests.trainer.test_bypass import test_a_conversion_after_apply_to_keeps_each_up_transposed

    test_a_conversion_after_apply_to_keeps_each_up_transposed("cuda", torch.float32)
