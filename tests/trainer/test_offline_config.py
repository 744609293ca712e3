"""The SDXL config folder that from_single_file(config=...) reads: complete and offline."""

from __future__ import annotations

import pytest


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from stylora_tui.trainer.sdxl_layout import config_dir

    return config_dir()


def test_every_component_config_loads_offline(folder):
    from diffusers import AutoencoderKL, DiffusionPipeline, EulerDiscreteScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTokenizer

    unet = UNet2DConditionModel.load_config(folder, subfolder="unet", local_files_only=True)
    assert unet["cross_attention_dim"] == 2048 and unet["transformer_layers_per_block"] == [1, 2, 10]
    assert AutoencoderKL.load_config(folder, subfolder="vae", local_files_only=True)["scaling_factor"] == 0.13025
    assert CLIPTextConfig.from_pretrained(folder, subfolder="text_encoder", local_files_only=True).hidden_size == 768
    assert CLIPTextConfig.from_pretrained(folder, subfolder="text_encoder_2", local_files_only=True).hidden_size == 1280
    scheduler = EulerDiscreteScheduler.from_pretrained(folder, subfolder="scheduler", local_files_only=True)
    assert scheduler.config.prediction_type == "epsilon"
    for sub, pad in (("tokenizer", "<|endoftext|>"), ("tokenizer_2", "!")):
        tokenizer = CLIPTokenizer.from_pretrained(folder, subfolder=sub, local_files_only=True)
        assert len(tokenizer) == 49408 and tokenizer.pad_token == pad
        assert tokenizer("a photo of a cat").input_ids == [49406, 320, 1125, 539, 320, 2368, 49407]
    assert DiffusionPipeline.load_config(folder, local_files_only=True)["_class_name"] == "StableDiffusionXLPipeline"


def test_config_folder_is_reused(folder, tmp_path):
    from stylora_tui.trainer.sdxl_layout import config_dir

    stamp = (folder / "unet" / "config.json").stat().st_mtime_ns
    assert config_dir() == folder and (folder / "unet" / "config.json").stat().st_mtime_ns == stamp


def test_a_dead_builds_staging_folder_is_cleaned_and_does_not_block(tmp_path):
    from stylora_tui.atomic import publish_dir

    target = tmp_path / "sdxl-config"
    stale = tmp_path / "sdxl-config.999999.tmp"  # a pid no process has
    stale.mkdir()
    (stale / "half-written.json").write_text("{")
    publish_dir(target, lambda staging: (staging.mkdir(), (staging / "ok").write_text("1")))
    assert (target / "ok").is_file() and not stale.exists()


def test_parameter_counts_the_estimates_use_match_the_real_architectures(folder, cache_env):
    """Memory and time estimates scale from these counts; a test keeps them true."""
    from accelerate import init_empty_weights
    from diffusers import UNet2DConditionModel

    from stylora_tui.model.files import DEMO, DEMO_UNET_PARAMETERS, SDXL_UNET_PARAMETERS, unet_parameters
    from stylora_tui.trainer.demo_model import demo_model_dir

    with init_empty_weights():
        unet = UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(folder, subfolder="unet", local_files_only=True))
    assert sum(p.numel() for p in unet.parameters()) == SDXL_UNET_PARAMETERS
    assert unet_parameters(DEMO) == DEMO_UNET_PARAMETERS == unet_parameters(str(demo_model_dir()))
