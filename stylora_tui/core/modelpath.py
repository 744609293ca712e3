"""Checks on a base-model path that need no torch: exists, right kind, never a pickle."""

from __future__ import annotations

import json
from pathlib import Path

from stylora_tui.core.modelhash import DEMO
from stylora_tui.errors import ModelError

PICKLE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin", ".pkl")


def check_model_path(path: str) -> str:
    """The path as given when usable ('demo' included); ModelError with the reason if not."""
    if not path:
        raise ModelError("no base model given", "pass --model PATH (a .safetensors SDXL checkpoint or a diffusers folder), or --model demo")
    if path == DEMO:
        return path
    resolved = Path(path).expanduser()
    if resolved.suffix.lower() in PICKLE_SUFFIXES:
        raise ModelError(
            f"{resolved.name} is a pickle checkpoint; loading one can run arbitrary code",
            "use the .safetensors version of the model (CivitAI offers it for nearly every SDXL model)",
        )
    if not resolved.exists():
        raise ModelError(f"base model {resolved} does not exist", "check the path; a .safetensors file or a diffusers folder")
    if resolved.is_dir() and not (resolved / "unet").is_dir():
        raise ModelError(f"{resolved} is not a diffusers SDXL folder (no unet/)", "point at the folder holding model_index.json, or at a .safetensors file")
    if resolved.is_file() and resolved.suffix.lower() != ".safetensors":
        raise ModelError(f"{resolved.name} is not a .safetensors checkpoint", "use an SDXL .safetensors file or a diffusers folder")
    if resolved.is_file():
        check_sdxl_header(resolved)
    return str(resolved.absolute())


MAX_HEADER_BYTES = 100 << 20


def safetensors_keys(path: Path) -> list[str]:
    """The tensor names in a .safetensors header (8-byte length, then JSON): no weights read."""
    with open(path, "rb") as handle:
        raw = handle.read(8)
        length = int.from_bytes(raw, "little") if len(raw) == 8 else -1
        if not 0 < length <= MAX_HEADER_BYTES:
            raise ModelError(f"{path.name} is not a valid .safetensors file", "re-download it; the file may be truncated or not a model")
        try:
            header = json.loads(handle.read(length))
        except (ValueError, UnicodeDecodeError):
            raise ModelError(f"{path.name} has a damaged .safetensors header", "re-download the file") from None
    return [k for k in header if k != "__metadata__"]


def check_sdxl_header(path: Path) -> None:
    """A full SDXL checkpoint in the original (SGM) layout, not a LoRA, a VAE or SD 1.x."""
    keys = safetensors_keys(path)
    if any(k.startswith(("lora_", "lycoris_")) or ".lora_down." in k or ".lora_A." in k for k in keys[:2000]):
        raise ModelError(f"{path.name} is a LoRA/LyCORIS adapter, not a base model", "pass the SDXL checkpoint you generate with (Pony, Animagine, ...) as --model")
    if not any(k.startswith("model.diffusion_model.") for k in keys):
        if any(k.startswith(("encoder.", "decoder.", "first_stage_model.")) for k in keys):
            raise ModelError(f"{path.name} looks like a VAE, not a full checkpoint", "give it as model.vae, and the full SDXL checkpoint as --model")
        raise ModelError(f"{path.name} is not a single-file Stable Diffusion checkpoint", "use a full SDXL .safetensors (as CivitAI offers) or a diffusers folder")
    if not any(k.startswith("conditioner.embedders.1.") for k in keys):
        raise ModelError(f"{path.name} is an SD 1.x/2.x checkpoint, not SDXL", "stylora-tui trains SDXL 1.0 models (Pony, Animagine, Illustrious, ...)")
