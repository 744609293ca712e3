"""kohya's LoRA key names for SDXL modules (FIELD-NOTES, Part 2).

The UNet part uses the original SGM block names, not diffusers names: A1111/Forge and
ComfyUI look keys up by those. lycoris names its modules after the diffusers path, so
our own mapping produces the names that go into the file.
"""

from __future__ import annotations

import re
from collections.abc import Callable

UNET_PREFIX, TE1_PREFIX, TE2_PREFIX = "lora_unet", "lora_te1", "lora_te2"

_RESNET_INNER = {
    "conv1": "in_layers_2",
    "conv2": "out_layers_3",
    "time_emb_proj": "emb_layers_1",
    "conv_shortcut": "skip_connection",
}

# diffusers path -> (SGM block, the rest of the path, whether the block is a resnet)
_PATTERNS: list[tuple[re.Pattern[str], Callable[..., tuple[str, str, bool]]]] = [
    (re.compile(r"^down_blocks\.(\d)\.resnets\.(\d)\.(.+)$"), lambda i, j, rest: (f"input_blocks_{1 + 3 * i + j}_0", rest, True)),
    (
        re.compile(r"^down_blocks\.(\d)\.attentions\.(\d)\.(.+)$"),
        lambda i, j, rest: (f"input_blocks_{1 + 3 * i + j}_1", rest, False),
    ),
    (re.compile(r"^down_blocks\.(\d)\.downsamplers\.0\.conv$"), lambda i: (f"input_blocks_{3 * (i + 1)}_0_op", "", False)),
    (re.compile(r"^mid_block\.resnets\.(\d)\.(.+)$"), lambda j, rest: (f"middle_block_{2 * j}", rest, True)),
    (re.compile(r"^mid_block\.attentions\.0\.(.+)$"), lambda rest: ("middle_block_1", rest, False)),
    (re.compile(r"^up_blocks\.(\d)\.resnets\.(\d)\.(.+)$"), lambda i, j, rest: (f"output_blocks_{3 * i + j}_0", rest, True)),
    (re.compile(r"^up_blocks\.(\d)\.attentions\.(\d)\.(.+)$"), lambda i, j, rest: (f"output_blocks_{3 * i + j}_1", rest, False)),
    (re.compile(r"^up_blocks\.(\d)\.upsamplers\.0\.conv$"), lambda i: (f"output_blocks_{3 * i + 2}_2_conv", "", False)),
]


def unet_key(diffusers_path: str) -> str:
    """`down_blocks.1.attentions.0.proj_in` -> `lora_unet_input_blocks_4_1_proj_in`."""
    for pattern, build in _PATTERNS:
        match = pattern.match(diffusers_path)
        if not match:
            continue
        groups = [int(g) if g.isdigit() else g for g in match.groups()]
        block, rest, is_resnet = build(*groups)
        if is_resnet:
            if rest not in _RESNET_INNER:
                raise ValueError(f"no kohya name for resnet module {diffusers_path!r}")
            rest = _RESNET_INNER[rest]
        else:
            rest = rest.replace(".", "_")
        return f"{UNET_PREFIX}_{block}_{rest}" if rest else f"{UNET_PREFIX}_{block}"
    raise ValueError(f"no kohya name for UNet module {diffusers_path!r}")


def text_encoder_key(diffusers_path: str, index: int) -> str:
    """`text_model.encoder.layers.0.self_attn.q_proj` -> `lora_te1_text_model_encoder_layers_0_self_attn_q_proj`."""
    prefix = TE1_PREFIX if index == 1 else TE2_PREFIX
    # transformers 5 dropped the `text_model` wrapper from CLIPTextModel (but not from
    # CLIPTextModelWithProjection); kohya's names always carry it.
    inner = diffusers_path.removeprefix("text_model.")
    return f"{prefix}_text_model_{inner.replace('.', '_')}"
