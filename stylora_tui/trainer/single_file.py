"""A diffusers SDXL folder written as one original-layout (SGM/LDM) checkpoint, the way
CivitAI distributes models: `model.diffusion_model.*`, `first_stage_model.*`,
`conditioner.embedders.0.transformer.*` (CLIP ViT-L, Hugging Face names) and
`conditioner.embedders.1.model.*` (OpenCLIP bigG names, fused q/k/v).

`stylora-tui demo-model --single-file` uses it, so the single-file loading path (the one a
real downloaded checkpoint takes) can be exercised without downloading 7 GB; optional
`v_pred`/`ztsnr` marker keys make a v-prediction checkpoint like NoobAI-XL V-Pred's.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from stylora_tui.atomic import apply_umask
from stylora_tui.model.files import V_PRED_KEY, ZTSNR_KEY

_UNET_RESNET = {
    "norm1": "in_layers.0",
    "conv1": "in_layers.2",
    "norm2": "out_layers.0",
    "conv2": "out_layers.3",
    "time_emb_proj": "emb_layers.1",
    "conv_shortcut": "skip_connection",
}
_UNET_TOP = {
    "time_embedding.linear_1": "time_embed.0",
    "time_embedding.linear_2": "time_embed.2",
    "add_embedding.linear_1": "label_emb.0.0",
    "add_embedding.linear_2": "label_emb.0.2",
    "conv_in": "input_blocks.0.0",
    "conv_norm_out": "out.0",
    "conv_out": "out.2",
}


def unet_to_original(state: dict[str, torch.Tensor], up_blocks_with_attention: set[int]) -> dict[str, torch.Tensor]:
    converted = {}
    for key, tensor in state.items():
        module, _, param = key.rpartition(".")
        converted[f"model.diffusion_model.{_unet_module(module, up_blocks_with_attention)}.{param}"] = tensor
    return converted


def _unet_module(path: str, up_blocks_with_attention: set[int]) -> str:
    if path in _UNET_TOP:
        return _UNET_TOP[path]
    if m := re.fullmatch(r"down_blocks\.(\d+)\.resnets\.(\d+)\.(\w+)", path):
        i, j, inner = int(m[1]), int(m[2]), m[3]
        return f"input_blocks.{1 + 3 * i + j}.0.{_UNET_RESNET[inner]}"
    if m := re.fullmatch(r"down_blocks\.(\d+)\.attentions\.(\d+)\.(.+)", path):
        return f"input_blocks.{1 + 3 * int(m[1]) + int(m[2])}.1.{m[3]}"
    if m := re.fullmatch(r"down_blocks\.(\d+)\.downsamplers\.0\.conv", path):
        return f"input_blocks.{3 * (int(m[1]) + 1)}.0.op"
    if m := re.fullmatch(r"mid_block\.resnets\.(\d+)\.(\w+)", path):
        return f"middle_block.{2 * int(m[1])}.{_UNET_RESNET[m[2]]}"
    if m := re.fullmatch(r"mid_block\.attentions\.0\.(.+)", path):
        return f"middle_block.1.{m[1]}"
    if m := re.fullmatch(r"up_blocks\.(\d+)\.resnets\.(\d+)\.(\w+)", path):
        return f"output_blocks.{3 * int(m[1]) + int(m[2])}.0.{_UNET_RESNET[m[3]]}"
    if m := re.fullmatch(r"up_blocks\.(\d+)\.attentions\.(\d+)\.(.+)", path):
        return f"output_blocks.{3 * int(m[1]) + int(m[2])}.1.{m[3]}"
    if m := re.fullmatch(r"up_blocks\.(\d+)\.upsamplers\.0\.conv", path):
        i = int(m[1])
        # The upsampler follows the attention in blocks that have one (SDXL's two deeper levels).
        return f"output_blocks.{3 * i + 2}.{2 if i in up_blocks_with_attention else 1}.conv"
    raise ValueError(f"no original-layout name for UNet module {path!r}")


_VAE_ATTENTION = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}
_VAE_TOP = {"conv_norm_out": "norm_out"}


def vae_to_original(state: dict[str, torch.Tensor], levels: int) -> dict[str, torch.Tensor]:
    converted = {}
    for key, tensor in state.items():
        module, _, param = key.rpartition(".")
        side, _, rest = module.partition(".")
        name, tensor = _vae_module(side, rest, tensor, levels)
        converted[f"first_stage_model.{name}.{param}"] = tensor
    return converted


def _vae_module(side: str, rest: str, tensor: torch.Tensor, levels: int) -> tuple[str, torch.Tensor]:
    if side in ("quant_conv", "post_quant_conv"):
        return side, tensor
    resnet = lambda inner: "nin_shortcut" if inner == "conv_shortcut" else inner  # noqa: E731
    if rest in ("conv_in", "conv_out"):
        return f"{side}.{rest}", tensor
    if rest in _VAE_TOP:
        return f"{side}.{_VAE_TOP[rest]}", tensor
    if m := re.fullmatch(r"down_blocks\.(\d+)\.resnets\.(\d+)\.(\w+)", rest):
        return f"{side}.down.{m[1]}.block.{m[2]}.{resnet(m[3])}", tensor
    if m := re.fullmatch(r"down_blocks\.(\d+)\.downsamplers\.0\.conv", rest):
        return f"{side}.down.{m[1]}.downsample.conv", tensor
    # The original decoder numbers its levels from the bottom up.
    if m := re.fullmatch(r"up_blocks\.(\d+)\.resnets\.(\d+)\.(\w+)", rest):
        return f"{side}.up.{levels - 1 - int(m[1])}.block.{m[2]}.{resnet(m[3])}", tensor
    if m := re.fullmatch(r"up_blocks\.(\d+)\.upsamplers\.0\.conv", rest):
        return f"{side}.up.{levels - 1 - int(m[1])}.upsample.conv", tensor
    if m := re.fullmatch(r"mid_block\.resnets\.(\d+)\.(\w+)", rest):
        return f"{side}.mid.block_{int(m[1]) + 1}.{resnet(m[2])}", tensor
    if m := re.fullmatch(r"mid_block\.attentions\.0\.(.+)", rest):
        inner = _VAE_ATTENTION[m[1]]
        # The original attention projections are 1x1 convolutions.
        if inner != "norm" and tensor.dim() == 2:
            tensor = tensor[:, :, None, None]
        return f"{side}.mid.attn_1.{inner}", tensor
    raise ValueError(f"no original-layout name for VAE module {side}.{rest!r}")


def clip_l_to_original(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    # transformers 5 dropped the `text_model.` level from CLIPTextModel; checkpoints keep it.
    return {f"conditioner.embedders.0.transformer.text_model.{k.removeprefix('text_model.')}": v for k, v in state.items()}


_OPENCLIP_TOP = {
    "text_model.embeddings.token_embedding.weight": "token_embedding.weight",
    "text_model.embeddings.position_embedding.weight": "positional_embedding",
    "text_model.final_layer_norm.weight": "ln_final.weight",
    "text_model.final_layer_norm.bias": "ln_final.bias",
}
_OPENCLIP_LAYER = {
    "self_attn.out_proj": "attn.out_proj",
    "layer_norm1": "ln_1",
    "layer_norm2": "ln_2",
    "mlp.fc1": "mlp.c_fc",
    "mlp.fc2": "mlp.c_proj",
}


def open_clip_to_original(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    prefix = "conditioner.embedders.1.model."
    converted = {}
    qkv: dict[tuple[int, str], dict[str, torch.Tensor]] = {}
    for key, tensor in state.items():
        if key in _OPENCLIP_TOP:
            converted[prefix + _OPENCLIP_TOP[key]] = tensor
            continue
        if key == "text_projection.weight":
            # OpenCLIP multiplies x @ text_projection: the transpose of a Linear weight.
            converted[prefix + "text_projection"] = tensor.t().contiguous()
            continue
        m = re.fullmatch(r"text_model\.encoder\.layers\.(\d+)\.(.+)\.(weight|bias)", key)
        if not m:
            raise ValueError(f"no original-layout name for text encoder 2 tensor {key!r}")
        layer, module, param = int(m[1]), m[2], m[3]
        if q := re.fullmatch(r"self_attn\.([qkv])_proj", module):
            qkv.setdefault((layer, param), {})[q[1]] = tensor
            continue
        converted[f"{prefix}transformer.resblocks.{layer}.{_OPENCLIP_LAYER[module]}.{param}"] = tensor
    for (layer, param), parts in qkv.items():
        converted[f"{prefix}transformer.resblocks.{layer}.attn.in_proj_{param}"] = torch.cat([parts["q"], parts["k"], parts["v"]])
    return converted


def write_single_file(model_dir: Path, output: Path, v_prediction: bool = False, zero_terminal_snr: bool = False) -> Path:
    """The diffusers folder `model_dir` as one original-layout .safetensors file."""
    import json

    from safetensors.torch import load_file, save_file

    def weights(component: str) -> dict[str, torch.Tensor]:
        folder = model_dir / component
        files = sorted(folder.glob("*.safetensors"))
        state: dict[str, torch.Tensor] = {}
        for file in files:
            state.update(load_file(str(file)))
        return state

    unet_config = json.loads((model_dir / "unet" / "config.json").read_text())
    vae_config = json.loads((model_dir / "vae" / "config.json").read_text())
    with_attention = {i for i, kind in enumerate(unet_config["up_block_types"]) if "CrossAttn" in kind}
    state = {
        **unet_to_original(weights("unet"), with_attention),
        **vae_to_original(weights("vae"), len(vae_config["block_out_channels"])),
        **clip_l_to_original(weights("text_encoder")),
        **open_clip_to_original(weights("text_encoder_2")),
    }
    if v_prediction:
        state[V_PRED_KEY] = torch.zeros(0)
    if zero_terminal_snr:
        state[ZTSNR_KEY] = torch.zeros(0)
    output.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in state.items()}, str(output), metadata={"format": "pt"})
    apply_umask(output)
    return output
