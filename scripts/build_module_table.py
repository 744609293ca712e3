"""Write stylora_tui/data/sdxl/modules.json: every module kohya's LoCon sets can train,
with its shape, for the standard SDXL architecture and the demo model.

Lets the TUI (which never imports torch) estimate parameters and file size exactly;
tests/trainer/test_plan.py checks the table against `plan`, built on the meta device.

    python scripts/build_module_table.py
"""

from __future__ import annotations

import json

import torch

from stylora_tui.core.config import build_config
from stylora_tui.core.paths import package_dir
from stylora_tui.trainer.network import LoConNetwork, TRANSFORMER
from stylora_tui.trainer.plan import _configs


def table(model_path: str) -> list[list]:
    from diffusers import UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    unet_config, te1_config, te2_config = _configs(model_path)
    keep = lambda c: {k: v for k, v in c.items() if not k.startswith("_") and k != "architectures"}  # noqa: E731
    config = build_config({"network": {"preset": "full", "algo": "locon"}})
    with torch.device("meta"):
        unet = UNet2DConditionModel.from_config(unet_config)
        network = LoConNetwork(unet, CLIPTextModel(CLIPTextConfig(**keep(te1_config))),
                               CLIPTextModelWithProjection(CLIPTextConfig(**keep(te2_config))), config.network)
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


def main() -> None:
    path = package_dir() / "data" / "sdxl" / "modules.json"
    path.write_text(json.dumps({"sdxl": table(""), "demo": table("demo")}, separators=(",", ":")) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
