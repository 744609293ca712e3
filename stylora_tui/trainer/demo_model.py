"""Random-weight SDXL-architecture pipelines: the embedded demo, and the full module tree.

The demo has SDXL's block structure (three UNet levels with two resnets each,
cross-attention transformers in the lower two, a text-time added embedding, two CLIP text
encoders of different widths, an 8x VAE) at one transformer block per level and two
text-encoder layers: small enough to train on a CPU in seconds.

The full-tree model has exactly SDXL's module tree (transformer depths 1/2/10, TE1 with 12
layers, TE2 with 32 and its projection) at tiny widths, so every one of kohya's 1,052 LoCon
modules exists, named as on the real model. Both are built from a fixed seed, so every
machine builds the same weights.
"""

from __future__ import annotations

from pathlib import Path

from stylora_tui import paths
from stylora_tui.atomic import publish_dir
from stylora_tui.trainer.sdxl_layout import write_layout

DEMO_VERSION = 2
SEED = 20240501
TE1_WIDTH, TE2_WIDTH, TIME_DIM = 32, 64, 8

DEMO_OVERRIDES: dict[str, dict] = {
    "unet": {
        "block_out_channels": [32, 64, 64],
        "attention_head_dim": [2, 4, 4],
        "transformer_layers_per_block": [1, 1, 1],
        "cross_attention_dim": TE1_WIDTH + TE2_WIDTH,
        "addition_time_embed_dim": TIME_DIM,
        "projection_class_embeddings_input_dim": 6 * TIME_DIM + TE2_WIDTH,
        "norm_num_groups": 8,
        "sample_size": 32,
    },
    "vae": {
        "block_out_channels": [16, 16, 32, 32],
        "layers_per_block": 1,
        "norm_num_groups": 8,
        "sample_size": 256,
    },
    "text_encoder": {
        "hidden_size": TE1_WIDTH,
        "intermediate_size": 64,
        "num_attention_heads": 2,
        "num_hidden_layers": 2,
        "projection_dim": TE1_WIDTH,
    },
    "text_encoder_2": {
        "hidden_size": TE2_WIDTH,
        "intermediate_size": 128,
        "num_attention_heads": 4,
        "num_hidden_layers": 2,
        "projection_dim": TE2_WIDTH,
    },
}


# Widths are the smallest that keep SDXL's rules: 64-wide attention heads (so one head
# here, as the header-derived config of a single-file checkpoint assumes) and 32 norm groups.
FULL_TREE_OVERRIDES: dict[str, dict] = {
    "unet": {
        # Rising widths like SDXL's 320/640/1280, so every level change has its skip connection.
        "block_out_channels": [32, 64, 96],
        "attention_head_dim": [1, 1, 1],
        "cross_attention_dim": 32 + 64,
        "addition_time_embed_dim": TIME_DIM,
        "projection_class_embeddings_input_dim": 6 * TIME_DIM + 64,
        "sample_size": 32,
    },
    "vae": {"block_out_channels": [32, 32, 32, 32], "sample_size": 256},
    "text_encoder": {"hidden_size": 32, "intermediate_size": 128, "num_attention_heads": 1, "projection_dim": 32},
    "text_encoder_2": {"hidden_size": 64, "intermediate_size": 256, "num_attention_heads": 1, "projection_dim": 64},
}
V_PREDICTION_SCHEDULER = {"prediction_type": "v_prediction", "rescale_betas_zero_snr": True}


def build_demo_model(folder: Path) -> Path:
    """Write the demo pipeline as a diffusers folder that StableDiffusionXLPipeline loads."""
    return build_model(folder, DEMO_OVERRIDES)


def build_model(folder: Path, overrides: dict[str, dict], seed: int = SEED, dtype=None) -> Path:
    """A random-weight SDXL-architecture diffusers folder (`overrides` over the SDXL configs),
    saved in `dtype` (a torch dtype; None: fp32)."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    folder = Path(folder)
    write_layout(folder, overrides)
    torch.manual_seed(seed)
    unet = UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(folder / "unet"))
    vae = AutoencoderKL.from_config(AutoencoderKL.load_config(folder / "vae"))
    te1 = CLIPTextModel(CLIPTextConfig.from_pretrained(folder / "text_encoder"))
    te2 = CLIPTextModelWithProjection(CLIPTextConfig.from_pretrained(folder / "text_encoder_2"))
    for name, model in (("unet", unet), ("vae", vae), ("text_encoder", te1), ("text_encoder_2", te2)):
        (model if dtype is None else model.to(dtype)).save_pretrained(folder / name, safe_serialization=True)
    return folder


def demo_model_dir() -> Path:
    """The demo model, built once into the cache and reused."""
    folder = paths.cache_dir() / f"demo-model-v{DEMO_VERSION}"
    if not (folder / "unet" / "diffusion_pytorch_model.safetensors").is_file():
        publish_dir(folder, build_demo_model)
    return folder
