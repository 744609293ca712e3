"""What a config will train, without weights: the architecture is built on the meta device."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from stylora_tui.core.config import Config
from stylora_tui.core.modelhash import DEMO

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


def module_rows(model_path: str) -> list[list]:
    """[kohya key, group, in, out, kernel] of every module LoCon 'full' can train, from
    the architecture built on the meta device (no weights)."""
    from diffusers import UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    from stylora_tui.core.config import build_config
    from stylora_tui.trainer.network import TRANSFORMER, LoConNetwork

    unet_config, te1_config, te2_config = _configs(model_path)
    keep = lambda c: {k: v for k, v in c.items() if not k.startswith("_") and k != "architectures"}  # noqa: E731
    everything = build_config({"network": {"preset": "full", "algo": "locon", "train_text_encoders": True}}).network
    with torch.device("meta"):
        unet = UNet2DConditionModel.from_config(unet_config)
        network = LoConNetwork(unet, CLIPTextModel(CLIPTextConfig(**keep(te1_config))),
                               CLIPTextModelWithProjection(CLIPTextConfig(**keep(te2_config))), everything)
    transformer_ids = {id(m) for block in unet.modules() if type(block).__name__ in TRANSFORMER for m in block.modules()}
    rows = []
    for key, module in sorted(network.modules_by_key.items()):
        original = module.lora.org_module[0]
        group = module.component if module.component != "unet" else ("transformer" if id(original) in transformer_ids else "conv-block")
        if isinstance(original, torch.nn.Conv2d):
            rows.append([key, group, original.in_channels, original.out_channels, original.kernel_size[0]])
        else:
            rows.append([key, group, original.in_features, original.out_features, 0])
    return rows


def plan_network(config: Config) -> NetworkPlan:
    from stylora_tui.core.estimate import estimate_rows, trained_groups

    groups = trained_groups(config)
    rows = [row for row in module_rows(config.model.path) if row[1] in groups]
    counts: dict[str, int] = {}
    for _, group, *_rest in rows:
        component = "unet" if group in ("transformer", "conv-block") else group
        counts[component] = counts.get(component, 0) + 1
    size = estimate_rows(rows, config)
    return NetworkPlan(tuple(row[0] for row in rows), counts, size.trainable_params, size.output_bytes)
