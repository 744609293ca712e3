"""Loading the base model, fully offline.

CivitAI-style single-file SDXL checkpoints load through diffusers' `from_single_file`
with the SDXL config folder written from the package (`config=`), so nothing is fetched;
diffusers folders load with `local_files_only`. Pickle checkpoints are refused: loading
one runs arbitrary code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stylora_tui.core.modelhash import DEMO
from stylora_tui.core.modelpath import PICKLE_SUFFIXES, check_model_path
from stylora_tui.errors import ModelError


@dataclass
class BaseModel:
    unet: object
    vae: object
    text_encoder: object
    text_encoder_2: object
    tokenizer: object
    tokenizer_2: object
    noise_scheduler: object
    source: Path
    pad_id_2: int


def resolve_model_path(path: str) -> Path:
    checked = check_model_path(path)
    if checked == DEMO:
        from stylora_tui.trainer.demo_model import demo_model_dir

        return demo_model_dir()
    return Path(checked)


def _noise_scheduler(prediction_type: str):
    from diffusers import DDPMScheduler

    return DDPMScheduler(
        num_train_timesteps=1000,
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        prediction_type=prediction_type,
        clip_sample=False,
    )


def load_base_model(path: str, vae_path: str = "") -> BaseModel:
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    from stylora_tui.adapters.clip_tokenizer import load_for_model
    from stylora_tui.trainer.sdxl_layout import config_dir, shipped_config

    source = resolve_model_path(path)
    prediction_type = "epsilon"
    if source.is_dir():
        kwargs = {"local_files_only": True}
        unet = UNet2DConditionModel.from_pretrained(source, subfolder="unet", **kwargs)
        vae = AutoencoderKL.from_pretrained(source, subfolder="vae", **kwargs)
        te1 = CLIPTextModel.from_pretrained(source, subfolder="text_encoder", **kwargs)
        te2 = CLIPTextModelWithProjection.from_pretrained(source, subfolder="text_encoder_2", **kwargs)
        scheduler_config = source / "scheduler" / "scheduler_config.json"
        if scheduler_config.is_file():
            import json

            prediction_type = json.loads(scheduler_config.read_text()).get("prediction_type", "epsilon")
    else:
        from diffusers import StableDiffusionXLPipeline

        try:
            pipe = StableDiffusionXLPipeline.from_single_file(str(source), config=str(config_dir()), local_files_only=True)
        except Exception as exc:  # diffusers raises many types for a file that is not SDXL
            raise ModelError(
                f"{source.name} could not be loaded as an SDXL checkpoint: {exc}",
                "stylora-tui trains SDXL 1.0 models (Pony, Animagine, Illustrious, ...); check the file is one",
            ) from exc
        unet, vae, te1, te2 = pipe.unet, pipe.vae, pipe.text_encoder, pipe.text_encoder_2
        prediction_type = shipped_config("scheduler")["prediction_type"]
    if vae_path:
        vae = _load_vae(Path(vae_path).expanduser(), config_dir())
    tokenizer, tokenizer_2 = load_for_model(source if source.is_dir() else None)
    pad_id_2 = tokenizer_2.token_to_id("!")
    return BaseModel(unet, vae, te1, te2, tokenizer, tokenizer_2, _noise_scheduler(prediction_type), source, pad_id_2 if pad_id_2 is not None else 0)


def _load_vae(path: Path, config_root: Path):
    from diffusers import AutoencoderKL

    if not path.exists():
        raise ModelError(f"VAE {path} does not exist", "check model.vae, or leave it empty to use the model's own VAE")
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise ModelError(f"VAE {path.name} is a pickle file", "use a .safetensors VAE")
    if path.is_dir():
        subfolder = "vae" if (path / "vae").is_dir() else None
        return AutoencoderKL.from_pretrained(path, subfolder=subfolder, local_files_only=True)
    return AutoencoderKL.from_single_file(str(path), config=str(config_root), subfolder="vae", local_files_only=True)
