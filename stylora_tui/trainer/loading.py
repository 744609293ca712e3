"""Loading the base model, fully offline, in the training dtype, straight to its device.

CivitAI-style single-file SDXL checkpoints load through diffusers' `from_single_file`
with an SDXL config folder written from the package (`config=`, its widths read from the
checkpoint's own header), so nothing is fetched; diffusers folders load with
`local_files_only`. Pickle checkpoints are refused: loading one runs arbitrary code.

Frozen weights are loaded in the dtype they train in (bf16 halves host RAM against fp32)
and each diffusers component goes to the device as soon as it is loaded, so the host
never holds the whole model in fp32 (rentals often have less RAM than VRAM).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from stylora_tui.errors import ModelError
from stylora_tui.model.files import Prediction, check_model_path, check_vae_path, read_header
from stylora_tui.model.hashes import DEMO

# Zero terminal SNR makes the last alpha_bar exactly 0 (infinite noise, SNR 0). ComfyUI,
# A1111 and Forge put this tiny value there instead, so epsilon weighting and sampling stay
# finite; training uses the same schedule the WebUIs sample with.
ZTSNR_LAST_ALPHA_BAR = 4.8973451890853435e-08


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
    prediction: Prediction


@dataclass(frozen=True)
class Placement:
    """Where each component goes and in which dtype."""

    device: torch.device
    unet_dtype: torch.dtype
    text_encoder_dtype: torch.dtype
    vae_dtype: torch.dtype


def vae_dtype_for(weight_dtype: torch.dtype) -> torch.dtype:
    """The SDXL VAE overflows in fp16 (NaN, black images): fp32, or bf16 where the run uses it."""
    return torch.bfloat16 if weight_dtype == torch.bfloat16 else torch.float32


def resolve_model_path(path: str) -> Path:
    checked = check_model_path(path)
    if checked == DEMO:
        from stylora_tui.trainer.demo_model import demo_model_dir

        return demo_model_dir()
    return Path(checked)


def noise_scheduler(prediction: Prediction):
    """SDXL's training schedule, with the base model's prediction type and terminal SNR."""
    from diffusers import DDPMScheduler

    scheduler = DDPMScheduler(
        num_train_timesteps=1000,
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        prediction_type=prediction.type,
        clip_sample=False,
        rescale_betas_zero_snr=prediction.zero_terminal_snr,
    )
    if prediction.zero_terminal_snr:
        scheduler.alphas_cumprod[-1] = ZTSNR_LAST_ALPHA_BAR
    return scheduler


def sampling_scheduler(prediction: Prediction, sampler: str = "euler"):
    """The previews' sampler (config.sampling's names: euler_a, euler, dpmpp_2m_karras) on
    SDXL's schedule, predicting what the model predicts; a zero terminal SNR model starts
    from the last timestep (trailing spacing), as its authors sample."""
    from diffusers import DPMSolverMultistepScheduler, EulerAncestralDiscreteScheduler, EulerDiscreteScheduler

    from stylora_tui.trainer.sdxl_layout import shipped_config

    config = {**shipped_config("scheduler"), "prediction_type": prediction.type}
    if prediction.zero_terminal_snr:
        config.update(rescale_betas_zero_snr=True, timestep_spacing="trailing")
    if sampler == "euler_a":
        return EulerAncestralDiscreteScheduler.from_config(config)
    if sampler == "dpmpp_2m_karras":
        return DPMSolverMultistepScheduler.from_config({**config, "use_karras_sigmas": True})
    return EulerDiscreteScheduler.from_config(config)


def load_base_model(path: str, vae_path: str, prediction: Prediction, placement: Placement) -> BaseModel:
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    from stylora_tui.integrations.clip_tokenizer import load_for_model
    from stylora_tui.trainer.sdxl_layout import config_dir, overrides_from_header

    source = resolve_model_path(path)
    device = placement.device
    if source.is_dir():
        kwargs = {"local_files_only": True}
        unet = UNet2DConditionModel.from_pretrained(source, subfolder="unet", torch_dtype=placement.unet_dtype, **kwargs).to(
            device
        )
        te1 = CLIPTextModel.from_pretrained(
            source, subfolder="text_encoder", torch_dtype=placement.text_encoder_dtype, **kwargs
        ).to(device)
        te2 = CLIPTextModelWithProjection.from_pretrained(
            source, subfolder="text_encoder_2", torch_dtype=placement.text_encoder_dtype, **kwargs
        ).to(device)
        vae = (
            None
            if vae_path
            else AutoencoderKL.from_pretrained(source, subfolder="vae", torch_dtype=placement.vae_dtype, **kwargs)
        )
    else:
        from diffusers import StableDiffusionXLPipeline

        overrides = overrides_from_header(read_header(source))
        try:
            pipe = StableDiffusionXLPipeline.from_single_file(
                str(source), config=str(config_dir(overrides)), local_files_only=True, torch_dtype=placement.unet_dtype
            )
        except Exception as exc:  # diffusers raises many types for a file that is not SDXL
            raise ModelError(
                f"{source.name} could not be loaded as an SDXL checkpoint: {exc}",
                "stylora-tui trains SDXL 1.0 models (Pony, Animagine, Illustrious, NoobAI, ...); check the file is one",
            ) from exc
        unet = pipe.unet.to(device)
        te1 = pipe.text_encoder.to(device, placement.text_encoder_dtype)
        te2 = pipe.text_encoder_2.to(device, placement.text_encoder_dtype)
        vae = None if vae_path else pipe.vae.to(dtype=placement.vae_dtype)
        del pipe
    if vae_path:
        vae = _load_vae(Path(vae_path).expanduser(), placement.vae_dtype)
    tokenizer, tokenizer_2 = load_for_model(source if source.is_dir() else None)
    pad_id_2 = tokenizer_2.token_to_id("!")
    return BaseModel(
        unet,
        vae,
        te1,
        te2,
        tokenizer,
        tokenizer_2,
        noise_scheduler(prediction),
        source,
        pad_id_2 if pad_id_2 is not None else 0,
        prediction,
    )


def _load_vae(path: Path, dtype: torch.dtype):
    from diffusers import AutoencoderKL

    from stylora_tui.trainer.sdxl_layout import config_dir

    check_vae_path(str(path))
    if path.is_dir():
        subfolder = "vae" if (path / "vae").is_dir() else None
        return AutoencoderKL.from_pretrained(path, subfolder=subfolder, local_files_only=True, torch_dtype=dtype)
    return AutoencoderKL.from_single_file(
        str(path), config=str(config_dir()), subfolder="vae", local_files_only=True, torch_dtype=dtype
    )
