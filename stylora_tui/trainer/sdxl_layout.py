"""A diffusers-layout SDXL config folder, written from the configs shipped in the package.

diffusers' `from_single_file(..., config=DIR, local_files_only=True)` needs such a folder
to load a CivitAI-style checkpoint offline; the demo model is saved in the same layout.
Tokenizer files come from the shipped CLIP vocabulary (both SDXL tokenizers share it;
tokenizer_2 pads with "!").
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from stylora_tui.core import paths

SHIPPED = paths.package_dir() / "data" / "sdxl"
LAYOUT_VERSION = 1


def shipped_config(name: str) -> dict:
    return json.loads((SHIPPED / f"{name}.json").read_text(encoding="utf-8"))


def write_tokenizer(folder: Path, pad_token: str) -> None:
    with gzip.open(paths.package_dir() / "data" / "clip" / "tokenizer.json.gz", "rt", encoding="utf-8") as handle:
        spec = json.loads(handle.read())
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
    (folder / "scheduler" / "scheduler_config.json").write_text(json.dumps(shipped_config("scheduler"), indent=2), encoding="utf-8")
    write_tokenizer(folder / "tokenizer", "<|endoftext|>")
    write_tokenizer(folder / "tokenizer_2", "!")
    return folder


def config_dir() -> Path:
    """The standard SDXL layout, written once into the cache."""
    from stylora_tui.trainer.demo_model import publish_once

    folder = paths.cache_dir() / f"sdxl-config-v{LAYOUT_VERSION}"
    if not (folder / "tokenizer_2" / "tokenizer_config.json").is_file():
        publish_once(folder, write_layout)
    return folder
