"""The models users actually bring: SDXL's full module tree, single-file checkpoints in the
original layout, epsilon and v-prediction (zero terminal SNR), text encoders trained under
gradient checkpointing."""

from __future__ import annotations

import json
import warnings

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from stylora_tui.run import events as ev
from tests.conftest import run_cli
from tests.trainer.conftest import demo_config, events, prepare, trainer

pytestmark = pytest.mark.slow

# SDXL uses the penultimate layer of TE1: kohya's set includes its last layer, which no
# loss can reach (the same holds in sd-scripts).
TE1_LAST_LAYER = "lora_te1_text_model_encoder_layers_11_"


def _train(tmp_path, images, env, model, name, **sections):
    sections.setdefault("training", {}).setdefault("epochs", 1)
    sections["training"].setdefault("gradient_checkpointing", True)
    config = demo_config(images, model={"path": str(model), "family": "animagine"}, **sections)
    run = prepare(tmp_path, config, name)
    result = trainer(run, {**env, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return run


def test_single_file_and_folder_train_offline_to_identical_adapters_on_every_module(tmp_path, dataset, cache_env, full_tree):
    from_folder = _train(tmp_path, dataset, cache_env, full_tree["folder"], "folder")
    from_file = _train(tmp_path, dataset, cache_env, full_tree["single_file"], "file")
    folder_weights = load_file(str(from_folder.output / "folder.safetensors"))
    file_weights = load_file(str(from_file.output / "file.safetensors"))
    assert folder_weights.keys() == file_weights.keys()
    # Same weights in, same adapter out (to the last bits BLAS may round differently when the
    # same values sit at differently aligned addresses).
    for key in folder_weights:
        torch.testing.assert_close(file_weights[key], folder_weights[key], rtol=1e-3, atol=1e-4)

    modules = {k.rsplit(".", 2)[0] for k in file_weights if k.endswith(".alpha")}
    assert len(modules) == 1052
    assert sum(m.startswith("lora_unet_") for m in modules) == 788
    assert sum(m.startswith("lora_te1_") for m in modules) == 72 and sum(m.startswith("lora_te2_") for m in modules) == 192
    # With gradient checkpointing on (every preset's default), every module a loss can reach trained,
    # the 264 text-encoder modules included.
    untrained = {m for m in modules if not file_weights[f"{m}.lora_up.weight"].abs().sum()}
    assert untrained == {m for m in modules if m.startswith(TE1_LAST_LAYER)}

    with safe_open(str(from_file.output / "file.safetensors"), "pt") as handle:
        metadata = handle.metadata()
    assert metadata["modelspec.prediction_type"] == "epsilon" and metadata["ss_v_parameterization"] == "False"
    assert metadata["ss_gradient_checkpointing"] == "True"

    from diffusers import StableDiffusionXLPipeline

    pipe = StableDiffusionXLPipeline.from_pretrained(full_tree["folder"], local_files_only=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pipe.load_lora_weights(str(from_file.output / "file.safetensors"))
    assert not [w for w in caught if "lora" in str(w.message).lower() or "unexpected" in str(w.message).lower()]
    injected = sum(
        1
        for model in (pipe.unet, pipe.text_encoder, pipe.text_encoder_2)
        for _, m in model.named_modules()
        if hasattr(m, "lora_A") and m.lora_A
    )
    assert injected == 1052, "diffusers' strict loader consumed every module"


def test_single_file_loads_the_same_weights_as_its_folder_twin(full_tree, cache_env):
    from stylora_tui.model.files import EPSILON, Prediction
    from stylora_tui.trainer.loading import Placement, load_base_model

    placement = Placement(torch.device("cpu"), torch.float32, torch.float32, torch.float32)
    folder = load_base_model(str(full_tree["folder"]), "", Prediction(EPSILON, False, "test"), placement)
    single = load_base_model(str(full_tree["single_file"]), "", Prediction(EPSILON, False, "test"), placement)
    for component in ("unet", "vae", "text_encoder", "text_encoder_2"):
        expected, loaded = getattr(folder, component).state_dict(), getattr(single, component).state_dict()
        assert expected.keys() == loaded.keys()
        assert all(torch.equal(expected[k], loaded[k]) for k in expected), component


@pytest.mark.parametrize("kind", ["vpred_file", "vpred_folder"])
def test_v_prediction_base_is_detected_trained_sampled_and_labelled(tmp_path, dataset, cache_env, full_tree, kind):
    run = _train(
        tmp_path,
        dataset,
        cache_env,
        full_tree[kind],
        "vpred",
        samples={"every_n_epochs": 1, "steps": 3, "suggest_strengths": []},
        training={"gradient_checkpointing": "auto"},
    )
    assert not list(run.samples.glob("*-at-*")), "no strengths asked for, none rendered"
    assert any(e["type"] == "epoch.judged" for e in events(run))
    frozen = run.config.read_text()
    assert 'prediction_type = "v_prediction"' in frozen and "zero_terminal_snr = true" in frozen
    started = next(e for e in events(run) if e["type"] == "run.started")
    assert started["prediction"] == "v_prediction" and started["zero_terminal_snr"] is True
    # "auto" decides on the device: a CPU has the memory, so no recomputation.
    assert started["gradient_checkpointing"] is False
    with safe_open(str(run.output / "vpred.safetensors"), "pt") as handle:
        metadata = handle.metadata()
    assert metadata["modelspec.prediction_type"] == "v"
    assert metadata["ss_v_parameterization"] == "True" and metadata["ss_zero_terminal_snr"] == "True"
    assert metadata["ss_gradient_checkpointing"] == "False"
    sample = next(e for e in events(run) if e["type"] == "sample.saved")
    from PIL import Image

    low, high = Image.open(run.path / sample["path"] / "01.png").convert("L").getextrema()
    assert high > low, "the v-prediction sample rendered an image, not a flat field"


def test_v_prediction_loss_uses_the_velocity_target_and_zero_terminal_snr_schedule():
    from stylora_tui.model.files import EPSILON, V_PREDICTION, Prediction
    from stylora_tui.trainer.loading import ZTSNR_LAST_ALPHA_BAR, noise_scheduler, sampling_scheduler

    plain = noise_scheduler(Prediction(EPSILON, False, "test"))
    vpred = noise_scheduler(Prediction(V_PREDICTION, True, "test"))
    assert vpred.config.prediction_type == "v_prediction"
    assert float(vpred.alphas_cumprod[-1]) == pytest.approx(ZTSNR_LAST_ALPHA_BAR)
    assert float(plain.alphas_cumprod[-1]) > 0.004, "an epsilon base keeps SDXL's own schedule"
    sampler = sampling_scheduler(Prediction(V_PREDICTION, True, "test"))
    assert sampler.config.prediction_type == "v_prediction" and sampler.config.rescale_betas_zero_snr
    assert sampler.config.timestep_spacing == "trailing"


def test_random_crop_changes_what_is_trained(tmp_path, dataset, cache_env):
    # Square training without buckets: each portrait/landscape demo image has spare pixels to crop.
    common = dict(dataset={"enable_buckets": False, "resolution_px": 128}, training={"epochs": 2})
    centred = _train(tmp_path, dataset, cache_env, "demo", "centred", **common)
    cropped = _train(
        tmp_path,
        dataset,
        cache_env,
        "demo",
        "cropped",
        dataset={"enable_buckets": False, "resolution_px": 128, "random_crop": True},
        training={"epochs": 2},
    )
    a, b = load_file(str(centred.output / "centred.safetensors")), load_file(str(cropped.output / "cropped.safetensors"))
    assert any(not torch.equal(a[k], b[k]) for k in a), "random crops must change the adapter"
    with safe_open(str(cropped.output / "cropped.safetensors"), "pt") as handle:
        assert handle.metadata()["ss_random_crop"] == "True" and handle.metadata()["ss_cache_latents"] == "False"


def test_random_crops_vary_per_step_and_stay_inside_the_image():
    from pathlib import Path

    from stylora_tui.dataset.captions import training_caption
    from stylora_tui.trainer.data import TrainItem, random_crop

    item = TrainItem(
        0, Path("x.png"), "x.png", "0" * 64, 1, (1000, 1500), (512, 512), (512, 768), training_caption("a", trigger="t")
    )
    crops = {random_crop(item, 7, epoch, 0, 0) for epoch in range(1, 30)}
    assert len(crops) > 10 and all(c[0] == 0 and 0 <= c[1] <= 256 for c in crops)
    assert random_crop(item, 7, 3, 0, 0) == random_crop(item, 7, 3, 0, 0), "a resumed run crops the same way"
    assert item.time_ids((0, 100)) == [1500, 1000, 100, 0, 512, 512]


@pytest.mark.parametrize("preset, count", [("full", 1052), ("attn-mlp", 986), ("unet-transformer-only", 722)])
def test_plan_counts_kohyas_modules_on_a_single_file_checkpoint(full_tree, preset, count):
    extra = ["--set", "network.train_text_encoders=false"] if preset == "unet-transformer-only" else []
    result = run_cli("plan", "--model", str(full_tree["vpred_file"]), "--set", f"network.preset={preset}", *extra, "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["module_count"] == count
    assert data["prediction"] == {"type": "v_prediction", "zero_terminal_snr": True, "source": "'v_pred' key in the checkpoint"}
    assert data["host_ram_bytes"] > full_tree["vpred_file"].stat().st_size
    assert [p["code"] for p in data["preflight"]] == ["cpu-training"]


def test_prodigy_trains(tmp_path, dataset, cache_env):
    # Prodigy ships with the trainer (a pure-Python package); many kohya presets use it.
    run = _train(
        tmp_path,
        dataset,
        cache_env,
        "demo",
        "prodigy",
        optimizer={"name": "Prodigy", "unet_lr": 1.0, "text_encoder_lr": 1.0},
        training={"epochs": 1, "max_steps": 3, "gradient_checkpointing": False},
    )
    assert [e["step"] for e in events(run) if e["type"] == "train.step"] == [1, 2, 3]


def test_samples_render_on_a_bf16_model_with_an_fp32_adapter(tmp_path, cache_env):
    # What a GPU run does (bf16 base, fp32 adapter); lycoris 3.x modules do not cast their
    # inputs, so sampling must run under autocast. Here on the CPU, which has bf16 too.
    from types import SimpleNamespace

    from stylora_tui.config.build import build_config
    from stylora_tui.model.files import EPSILON, Prediction
    from stylora_tui.run.catalog import create_run
    from stylora_tui.trainer.loading import Placement, load_base_model
    from stylora_tui.trainer.network import LoConNetwork
    from stylora_tui.trainer.sampler import Sampler
    from stylora_tui.trainer.text import TextConditioner

    bf16 = torch.bfloat16
    base = load_base_model("demo", "", Prediction(EPSILON, False, "test"), Placement(torch.device("cpu"), bf16, bf16, bf16))
    config = build_config(
        {
            "model": {"path": "demo"},
            "network": {"dim": 4, "alpha": 2, "conv_dim": 4, "conv_alpha": 2},
            "captions": {"trigger": "stylorademostyle"},
            "samples": {"steps": 2, "prompts": ["stylorademostyle, cat"]},
        }
    )
    adapter = LoConNetwork(base.unet, base.text_encoder, base.text_encoder_2, config.network)
    adapter.apply_to()
    adapter.to(torch.device("cpu"), torch.float32)
    for parameter in adapter.parameters():
        parameter.data.normal_(0, 0.01)
    emitted = []
    reporter = SimpleNamespace(emit=emitted.append)
    conditioner = TextConditioner(base.tokenizer, base.tokenizer_2, base.text_encoder, base.text_encoder_2, 225, base.pad_id_2)
    sampler = Sampler(
        create_run(tmp_path / "runs", "bf16"),
        config,
        reporter,
        base,
        conditioner,
        adapter,
        torch.device("cpu"),
        bf16,
        (128, 128),
        {},
        "demo",
    )
    folder = sampler.render("e0001", 1, 1)
    assert folder is not None, emitted
    assert [e for e in emitted if isinstance(e, ev.SampleSaved)] and (folder / "01.png").is_file()
    assert any(isinstance(e, ev.SampleProgress) for e in emitted)
