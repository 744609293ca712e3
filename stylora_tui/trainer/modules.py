"""What a config will train, without weights: the architecture is built on the meta device."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from stylora_tui.config.schema import Config
from stylora_tui.model.hashes import DEMO


@dataclass(frozen=True)
class NetworkPlan:
    modules: tuple[str, ...]
    by_component: dict
    trainable_params: int
    output_bytes: int


COMPONENTS = ("unet", "text_encoder", "text_encoder_2", "vae")


def _configs(model_path: str) -> tuple[dict, ...]:
    from stylora_tui.trainer.sdxl_layout import shipped_config

    if model_path == DEMO:
        from stylora_tui.trainer.demo_model import DEMO_OVERRIDES

        return tuple({**shipped_config(name), **DEMO_OVERRIDES[name]} for name in COMPONENTS)
    folder = Path(model_path) if model_path else None
    if folder is not None and folder.is_dir():
        return tuple(json.loads((folder / name / "config.json").read_text()) for name in COMPONENTS)
    overrides: dict[str, dict] = {}
    if folder is not None and folder.is_file():
        from stylora_tui.model.files import read_header
        from stylora_tui.trainer.sdxl_layout import overrides_from_header

        overrides = overrides_from_header(read_header(folder))
    # No model: the standard SDXL architecture; a single file: its own, read from its header.
    return tuple({**shipped_config(name), **overrides.get(name, {})} for name in COMPONENTS)


def _meta_models(model_path: str):
    """(unet, text encoder, text encoder 2, vae) of the model's architecture, without weights."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    unet_config, te1_config, te2_config, vae_config = _configs(model_path)
    keep = lambda c: {k: v for k, v in c.items() if not k.startswith("_") and k != "architectures"}  # noqa: E731
    with torch.device("meta"):
        return (
            UNet2DConditionModel.from_config(unet_config),
            CLIPTextModel(CLIPTextConfig(**keep(te1_config))),
            CLIPTextModelWithProjection(CLIPTextConfig(**keep(te2_config))),
            AutoencoderKL.from_config(vae_config),
        )


# Python, torch, CUDA and the data pipeline, beside the model weights.
PROCESS_BASE_BYTES = 3 << 30


def host_ram_bytes(model_path: str, weight_bytes: int) -> int:
    """System RAM the trainer needs while loading: a diffusers folder's components are loaded
    and moved to the GPU one at a time; a single file is read whole, then converted."""
    sizes = [sum(p.numel() for p in model.parameters()) * weight_bytes for model in _meta_models(model_path)]
    path = Path(model_path) if model_path and model_path != DEMO else None
    if path is not None and path.is_file():
        return PROCESS_BASE_BYTES + path.stat().st_size + sum(sizes)
    return PROCESS_BASE_BYTES + max(sizes)


def module_rows(model_path: str) -> list[list]:
    """[kohya key, group, in, out, kernel] of every module LoCon 'full' can train, from
    the architecture built on the meta device (no weights)."""
    from stylora_tui.config.build import build_config
    from stylora_tui.trainer.network import TRANSFORMER, LoConNetwork

    everything = build_config({"network": {"preset": "full", "algo": "locon", "train_text_encoders": True}}).network
    unet, te1, te2, _vae = _meta_models(model_path)
    with torch.device("meta"):
        network = LoConNetwork(unet, te1, te2, everything)
    transformer_ids = {id(m) for block in unet.modules() if type(block).__name__ in TRANSFORMER for m in block.modules()}
    rows = []
    for key, module in sorted(network.modules_by_key.items()):
        original = module.lora.org_module[0]
        group = (
            module.component
            if module.component != "unet"
            else ("transformer" if id(original) in transformer_ids else "conv-block")
        )
        if isinstance(original, torch.nn.Conv2d):
            rows.append([key, group, original.in_channels, original.out_channels, original.kernel_size[0]])
        else:
            rows.append([key, group, original.in_features, original.out_features, 0])
    return rows


def plan_network(config: Config) -> NetworkPlan:
    from stylora_tui.forecast.size import estimate_rows, trained_groups

    groups = trained_groups(config)
    rows = [row for row in module_rows(config.model.path) if row[1] in groups]
    counts: dict[str, int] = {}
    for _, group, *_rest in rows:
        component = "unet" if group in ("transformer", "conv-block") else group
        counts[component] = counts.get(component, 0) + 1
    size = estimate_rows(rows, config)
    return NetworkPlan(tuple(row[0] for row in rows), counts, size.trainable_params, size.output_bytes)
