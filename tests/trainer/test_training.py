from __future__ import annotations

import json
import warnings

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from stylora_tui.integrations.machine import Machine
from stylora_tui.run import control
from tests.conftest import tree_digest
from tests.trainer.conftest import demo_config, events, prepare, trainer, wait_for

pytestmark = pytest.mark.slow


def test_demo_run_writes_outputs_that_diffusers_loads_strictly(tmp_path, dataset, cache_env):
    before = tree_digest(dataset)
    run = prepare(tmp_path, demo_config(dataset), "strict")
    result = trainer(run, cache_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(run.outputs()) == ["strict-e0001.safetensors", "strict.safetensors"]
    kinds = [e["type"] for e in events(run)]
    assert kinds[0] in ("run.started", "gpu.sample") and kinds[-1] == "run.finished"
    assert json.loads(run.status_file.read_text())["state"] == "finished"
    assert tree_digest(dataset) == before, "the dataset folder is never modified"

    path = run.output / "strict.safetensors"
    with safe_open(str(path), "pt") as handle:
        keys, metadata = list(handle.keys()), handle.metadata()
    assert all(k.endswith((".lora_down.weight", ".lora_up.weight", ".alpha")) for k in keys)
    assert {k.split("_")[1] for k in keys} == {"unet", "te1", "te2"}
    assert any(k.startswith("lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q.") for k in keys)
    assert any(k.startswith("lora_unet_output_blocks_2_2_conv.") for k in keys)
    assert metadata["ss_base_model_version"] == "sdxl_base_v1-0"
    assert metadata["modelspec.architecture"] == "stable-diffusion-xl-v1-base/lora"
    assert metadata["modelspec.trigger_phrase"] == "stylorademostyle"
    assert metadata["ss_num_train_images"] == "8" and json.loads(metadata["ss_tag_frequency"])["data"]["flat color"] == 8
    assert len(metadata["sshs_model_hash"]) == 64
    from stylora_tui.atomic import umask

    assert path.stat().st_mode & 0o777 == 0o666 & ~umask(), "adapters get the user's umask, not safetensors' 0600"

    from diffusers import StableDiffusionXLPipeline

    from stylora_tui.trainer.demo_model import demo_model_dir

    pipe = StableDiffusionXLPipeline.from_pretrained(demo_model_dir(), local_files_only=True)
    pipe.set_progress_bar_config(disable=True)

    def render():
        return pipe(
            "stylorademostyle, cat",
            num_inference_steps=2,
            height=128,
            width=128,
            output_type="np",
            generator=torch.Generator().manual_seed(0),
        ).images

    plain = render()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pipe.load_lora_weights(str(path))
    assert not [w for w in caught if "lora" in str(w.message).lower() or "unexpected" in str(w.message).lower()]
    injected = sum(
        1
        for model in (pipe.unet, pipe.text_encoder, pipe.text_encoder_2)
        for _, m in model.named_modules()
        if hasattr(m, "lora_A") and m.lora_A
    )
    assert injected == len(keys) // 3, "every module in the file was consumed"
    assert abs(render() - plain).max() > 1e-4, "the adapter changes the model's output"


def test_stop_and_resume_matches_an_uninterrupted_run(tmp_path, dataset, cache_env):
    # Caption shuffling and dropout, offset noise, accumulation and min-SNR all draw on
    # state a checkpoint must carry.
    extra = dict(
        captions={"shuffle": True, "caption_dropout": 0.2},
        training={
            "epochs": 3,
            "gradient_accumulation_steps": 2,
            "batch_size": 1,
            "noise_offset": 0.05,
            "min_snr_gamma": 5.0,
            "seed": 11,
        },
    )
    straight = prepare(tmp_path, demo_config(dataset, **extra), "straight")
    assert trainer(straight, cache_env).returncode == 0

    interrupted = prepare(tmp_path, demo_config(dataset, **extra), "interrupted")
    process = trainer(interrupted, cache_env, wait=False)
    wait_for(lambda: any(e["type"] == "train.step" and e["step"] >= 2 for e in events(interrupted)))
    control.request(interrupted, control.STOP)
    assert process.wait(timeout=120) == 0
    stopped = next(e for e in events(interrupted) if e["type"] == "run.stopped")
    assert json.loads(interrupted.status_file.read_text())["state"] == "stopped"
    assert stopped["checkpoint"] and stopped["step"] < 12, "stopped mid-run"
    assert not (interrupted.control / "stop").exists()

    resumed = trainer(interrupted, cache_env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    kinds = [e["type"] for e in events(interrupted)]
    assert kinds.count("run.resumed") == 1 and kinds[-1] == "run.finished"
    a = load_file(str(straight.output / "straight.safetensors"))
    b = load_file(str(interrupted.output / "interrupted.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_second_trainer_on_a_running_run_is_refused(tmp_path, dataset, cache_env):
    run = prepare(tmp_path, demo_config(dataset, training={"epochs": 30}), "busy")
    first = trainer(run, cache_env, wait=False)
    try:
        wait_for(lambda: any(e["type"] == "train.step" for e in events(run)))
        second = trainer(run, cache_env)
        assert second.returncode == 2 and "already has a live trainer" in second.stdout
    finally:
        first.kill()
        first.wait()


def test_pickle_model_is_refused(tmp_path, dataset):
    from stylora_tui.errors import ModelError
    from stylora_tui.launch.prepare import prepare_run

    (tmp_path / "model.ckpt").write_bytes(b"x")
    with pytest.raises(ModelError) as info:
        prepare_run(
            demo_config(dataset, model={"path": str(tmp_path / "model.ckpt")}), tmp_path / "runs", None, machine=Machine()
        )
    assert "pickle" in info.value.message


def test_samples_and_validation_per_saved_epoch_and_a_sheet(tmp_path, dataset, cache_env):
    config = demo_config(
        dataset,
        training={"epochs": 3},
        samples={"every_n_epochs": 1, "steps": 2, "suggest_strengths": [1.0, 0.8, 0.6]},
        validation={"holdout_images": 2},
    )
    run = prepare(tmp_path, config, "picks")
    result = trainer(run, cache_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(run.outputs()) == ["picks-e0001.safetensors", "picks-e0002.safetensors", "picks.safetensors"]
    for epoch in (1, 2, 3):
        folder = run.samples / f"e{epoch:04d}"
        assert sorted(p.name for p in folder.glob("*.png")) == ["01.png", "02.png", "03.png", "04.png"]
        assert json.loads((folder / "prompts.json").read_text())["prompts"][0].startswith("stylorademostyle, ")
    log = events(run)
    validation = [e for e in log if e["type"] == "validation.loss"]
    assert [e["epoch"] for e in validation] == [1, 2, 3] and all(e["images"] == 2 for e in validation)
    started = next(e for e in log if e["type"] == "run.started")
    assert started["images"] == 6, "held-out images are not trained on"
    sheet = tmp_path / "sheet.png"
    from tests.conftest import run_cli

    proc = run_cli("compare", "picks", "-o", str(sheet), "--best", "2", "--runs-dir", str(tmp_path / "runs"), env=cache_env)
    assert proc.returncode == 0, proc.stderr
    assert (run.output / "picks-best.safetensors").read_bytes() == (run.output / "picks-e0002.safetensors").read_bytes()
    # Each save's previews judged by the trainer, a suggestion after each, and after the last
    # epoch the suggested epoch previewed at the other strengths.
    judged = [e for e in log if e["type"] == "epoch.judged"]
    assert {(e["epoch"], e["strength"]) for e in judged} >= {(1, 1.0), (2, 1.0), (3, 1.0)}
    assert all(isinstance(e["style_score"], float) and e["style_unavailable"] is None for e in judged)
    suggested = [e for e in log if e["type"] == "adapter.suggested"][-1]
    assert suggested["why"] and suggested["adapter"].startswith("picks")
    for strength in ("0.8", "0.6"):
        folder = run.samples / f"e{suggested['epoch']:04d}-at-{strength}"
        assert len(list(folder.glob("*.png"))) == 4
        assert json.loads((folder / "prompts.json").read_text())["strength"] == float(strength)
    assert [e["type"] for e in log].index("run.finished") > [e["type"] for e in log].index("adapter.suggested")
    assert json.loads((run.path / "suggestion.json").read_text())["epoch"] == suggested["epoch"]
    data = json.loads(run_cli("compare", "picks", "--json", "--runs-dir", str(tmp_path / "runs"), env=cache_env).stdout)
    assert len(data["epochs"]) == 5 and data["suggested"]["run"] == "picks"


def test_gradient_checkpointing_leaves_no_module_untrained(tmp_path, dataset, cache_env):
    """With checkpointing (the presets' default) every adapter module gets gradients, except
    TE1's last layer: SDXL conditions on TE1's penultimate layer, as in kohya's files."""
    config = demo_config(dataset, training={"epochs": 1, "gradient_checkpointing": True, "scale_weight_norms": 0.0})
    run = prepare(tmp_path, config, "ckpt")
    assert trainer(run, cache_env).returncode == 0
    state = load_file(str(run.output / "ckpt.safetensors"))
    untrained = sorted(k for k, v in state.items() if k.endswith("lora_up.weight") and not v.abs().max() > 0)
    assert untrained and all(k.startswith("lora_te1_text_model_encoder_layers_1_") for k in untrained)


def test_the_trainer_trains_at_the_batch_it_was_given(tmp_path, dataset, cache_env):
    from stylora_tui.dataset.doctor import steps_for
    from stylora_tui.dataset.scan import scan_dataset

    config = demo_config(dataset, training={"epochs": 2, "batch_size": 3, "seed": 3})
    counted = steps_for(scan_dataset(dataset, ".txt", 1), config)
    assert counted.total_steps < counted.at_batch(1).total_steps
    run = prepare(tmp_path, config, "batched")
    done = trainer(run, cache_env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    log = events(run)
    started = next(e for e in log if e["type"] == "run.started")
    steps = [e for e in log if e["type"] == "train.step"]
    assert started["total_steps"] == counted.total_steps == len(steps), "the steps review and check counted"
    assert steps[0]["images_per_s"] == pytest.approx(steps[0]["it_per_s"] * 3, rel=1e-3), "three images per step"
