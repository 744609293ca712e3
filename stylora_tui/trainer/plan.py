"""What a config will train, without weights: the architecture is built on the meta device."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from stylora_tui.core.config import Config
from stylora_tui.core.modelhash import DEMO

BYTES = {"fp16": 2, "bf16": 2, "fp32": 4}


@dataclass(frozen=True)
class NetworkPlan:
    modules: tuple[str, ...]
    by_component: dict
    trainable_params: int
    output_bytes: int


def _configs(model_path: str) -> tuple[dict, dict, dict]:
    from stylora_tui.trainer.sdxl_layout import shipped_config

    if model_path == DEMO:
        from stylora_tui.trainer.demo_model import OVERRIDES

        return tuple({**shipped_config(name), **OVERRIDES[name]} for name in ("unet", "text_encoder", "text_encoder_2"))
    folder = Path(model_path) if model_path else None
    if folder is not None and folder.is_dir():
        return tuple(json.loads((folder / name / "config.json").read_text()) for name in ("unet", "text_encoder", "text_encoder_2"))
    # No model, or a single-file checkpoint: the standard SDXL architecture.
    return shipped_config("unet"), shipped_config("text_encoder"), shipped_config("text_encoder_2")


def plan_network(config: Config) -> NetworkPlan:
    from diffusers import UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    from stylora_tui.trainer.network import LoConNetwork

    unet_config, te1_config, te2_config = _configs(config.model.path)
    keep = lambda c: {k: v for k, v in c.items() if not k.startswith("_") and k != "architectures"}  # noqa: E731
    with torch.device("meta"):
        unet = UNet2DConditionModel.from_config(unet_config)
        te1 = CLIPTextModel(CLIPTextConfig(**keep(te1_config)))
        te2 = CLIPTextModelWithProjection(CLIPTextConfig(**keep(te2_config)))
        network = LoConNetwork(unet, te1, te2, config.network)
    counts: dict[str, int] = {}
    size = BYTES[config.saving.precision]
    tensor_bytes = 0
    header = 8 + 10_000  # metadata with tag frequencies is a few kB
    for key, module in network.modules_by_key.items():
        counts[module.component] = counts.get(module.component, 0) + 1
        lora = module.lora
        tensor_bytes += (lora.lora_down.weight.numel() + lora.lora_up.weight.numel() + 1) * size
        header += 3 * (len(key) + 90)
    return NetworkPlan(tuple(sorted(network.modules_by_key)), counts, network.trainable_parameters(), tensor_bytes + header)
