"""Checks on a base-model path that need no torch: exists, right kind, never a pickle."""

from __future__ import annotations

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
    return str(resolved.absolute())
