"""A diffusers-layout SDXL config folder, written from the configs shipped in the package.

diffusers' `from_single_file(..., config=DIR, local_files_only=True)` needs such a folder
to load a CivitAI-style checkpoint offline; the demo model is saved in the same layout.
Tokenizer files come from the shipped CLIP vocabulary (both SDXL tokenizers share it;
tokenizer_2 pads with "!").
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from stylora_tui import paths
from stylora_tui.atomic import publish_dir
from stylora_tui.errors import ModelError

SHIPPED = paths.package_dir() / "data" / "sdxl"
LAYOUT_VERSION = 2


def shipped_config(name: str) -> dict:
    return json.loads((SHIPPED / f"{name}.json").read_text(encoding="utf-8"))


def write_tokenizer(folder: Path, pad_token: str) -> None:
    from stylora_tui.integrations.clip_tokenizer import shipped_spec

    spec = shipped_spec()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(spec["model"]["vocab"], ensure_ascii=False), encoding="utf-8")
    merges = [m if isinstance(m, str) else " ".join(m) for m in spec["model"]["merges"]]
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    (folder / "tokenizer.json").write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    special = {
        "bos_token": "<|startoftext|>",
        "eos_token": "<|endoftext|>",
        "unk_token": "<|endoftext|>",
        "pad_token": pad_token,
    }
    (folder / "special_tokens_map.json").write_text(json.dumps(special), encoding="utf-8")
    config = {"tokenizer_class": "CLIPTokenizer", "model_max_length": 77, "do_lower_case": True, "errors": "replace", **special}
    (folder / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")


def write_layout(folder: Path, overrides: dict[str, dict] | None = None) -> Path:
    """model_index.json, each component's config.json and both tokenizers (no weights)."""
    overrides = overrides or {}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model_index.json").write_text(json.dumps(shipped_config("model_index"), indent=2), encoding="utf-8")
    for component in ("unet", "vae", "text_encoder", "text_encoder_2"):
        config = {**shipped_config(component), **overrides.get(component, {})}
        (folder / component).mkdir(exist_ok=True)
        (folder / component / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    (folder / "scheduler").mkdir(exist_ok=True)
    scheduler = {**shipped_config("scheduler"), **overrides.get("scheduler", {})}
    (folder / "scheduler" / "scheduler_config.json").write_text(json.dumps(scheduler, indent=2), encoding="utf-8")
    write_tokenizer(folder / "tokenizer", "<|endoftext|>")
    write_tokenizer(folder / "tokenizer_2", "!")
    return folder


def config_dir(overrides: dict[str, dict] | None = None) -> Path:
    """The SDXL layout (the standard one, or with `overrides`), written once into the cache."""
    suffix = ""
    if overrides:
        suffix = "-" + hashlib.sha256(json.dumps(overrides, sort_keys=True).encode()).hexdigest()[:12]
    folder = paths.cache_dir() / f"sdxl-config-v{LAYOUT_VERSION}{suffix}"
    if not (folder / "tokenizer_2" / "tokenizer_config.json").is_file():
        publish_dir(folder, lambda staging: write_layout(staging, overrides))
    return folder


UNET, VAE = "model.diffusion_model.", "first_stage_model."
TE1, TE2 = "conditioner.embedders.0.transformer.text_model.", "conditioner.embedders.1.model."
HEAD_WIDTH = 64  # SDXL's attention heads are 64 wide in the UNet and both text encoders


def overrides_from_header(header: dict) -> dict[str, dict]:
    """How a single-file checkpoint's architecture differs from the standard SDXL config,
    read from its tensor shapes (no weights). Real SDXL checkpoints give {}; smaller
    SDXL-structured test models give their widths and depths."""
    shapes = {k: v["shape"] for k, v in header.items() if isinstance(v, dict) and isinstance(v.get("shape"), list)}

    def shape(key: str) -> list[int]:
        if key not in shapes:
            raise ModelError(
                f"the checkpoint lacks {key}: it does not have SDXL's layout",
                "use a full SDXL 1.0 checkpoint (Pony, Animagine, Illustrious, NoobAI, ...)",
            )
        return shapes[key]

    def count(pattern: str) -> int:
        found = {m.group(1) for k in shapes if (m := re.match(pattern, k))}
        return len(found)

    heads = lambda width: max(1, width // HEAD_WIDTH)  # noqa: E731
    channels = [shape(f"{UNET}input_blocks.{3 * i + 1}.0.out_layers.3.weight")[0] for i in range(3)]
    depths = [max(1, count(rf"{re.escape(UNET)}input_blocks\.{3 * i + 1}\.1\.transformer_blocks\.(\d+)\.")) for i in range(3)]
    te2_projection = shape(f"{TE2}text_projection")[1]
    te1_width, te2_width = shape(f"{TE1}embeddings.token_embedding.weight")[1], shape(f"{TE2}token_embedding.weight")[1]
    vae_levels = count(rf"{re.escape(VAE)}encoder\.down\.(\d+)\.")
    derived = {
        "unet": {
            "block_out_channels": channels,
            "transformer_layers_per_block": depths,
            "attention_head_dim": [heads(c) for c in channels],
            "cross_attention_dim": shape(f"{UNET}input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight")[1],
            "addition_time_embed_dim": (shape(f"{UNET}label_emb.0.0.weight")[1] - te2_projection) // 6,
            "projection_class_embeddings_input_dim": shape(f"{UNET}label_emb.0.0.weight")[1],
        },
        "vae": {
            "block_out_channels": [shape(f"{VAE}encoder.down.{i}.block.0.conv1.weight")[0] for i in range(vae_levels)],
            "layers_per_block": count(rf"{re.escape(VAE)}encoder\.down\.0\.block\.(\d+)\."),
        },
        "text_encoder": {
            "hidden_size": te1_width,
            "intermediate_size": shape(f"{TE1}encoder.layers.0.mlp.fc1.weight")[0],
            "num_hidden_layers": count(rf"{re.escape(TE1)}encoder\.layers\.(\d+)\."),
            "num_attention_heads": heads(te1_width),
        },
        "text_encoder_2": {
            "hidden_size": te2_width,
            "intermediate_size": shape(f"{TE2}transformer.resblocks.0.mlp.c_fc.weight")[0],
            "num_hidden_layers": count(rf"{re.escape(TE2)}transformer\.resblocks\.(\d+)\."),
            "num_attention_heads": heads(te2_width),
            "projection_dim": te2_projection,
        },
    }
    # GroupNorm's group count is not in any tensor's shape: SDXL's 32 where the widths allow,
    # else the most groups that divide every width (narrow test models), rather than a
    # GroupNorm that cannot be built.
    for component in ("unet", "vae"):
        widths = derived[component]["block_out_channels"]
        derived[component]["norm_num_groups"] = next(g for g in (32, 16, 8, 4, 2, 1) if all(w % g == 0 for w in widths))
    if vae_levels != len(shipped_config("vae")["block_out_channels"]):
        derived["vae"]["down_block_types"] = ["DownEncoderBlock2D"] * vae_levels
        derived["vae"]["up_block_types"] = ["UpDecoderBlock2D"] * vae_levels
    overrides = {}
    for component, values in derived.items():
        standard = shipped_config(component)
        changed = {k: v for k, v in values.items() if standard.get(k) != v}
        if changed:
            overrides[component] = changed
    return overrides
