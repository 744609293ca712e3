"""Writing adapters: kohya layout, metadata, hashes, written atomically, then verified.

After each save the file is read back and every key is checked against the modules of
the base model it was trained on: a file that would not load everywhere is an error now,
not a surprise in the WebUI.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import torch

from stylora_tui.atomic import apply_umask, replace_with
from stylora_tui.errors import StyloraError
from stylora_tui.trainer import faults

DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}


class OutputError(StyloraError):
    title = "output error"


def sshs_hashes(tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> tuple[str, str]:
    """kohya's sshs_model_hash (SHA-256 of the tensor bytes, ss_* metadata only in the
    header) and sshs_legacy_hash (8 hex digits of a 64 KiB window at 1 MiB)."""
    from safetensors.torch import save

    data = save(tensors, {k: v for k, v in metadata.items() if k.startswith("ss_")})
    header = int.from_bytes(data[:8], "little")
    model_hash = hashlib.sha256(data[8 + header :]).hexdigest()
    buffer = io.BytesIO(data)
    buffer.seek(0x100000)
    legacy = hashlib.sha256(buffer.read(0x10000)).hexdigest()[:8]
    return model_hash, legacy


def save_adapter(state: dict[str, torch.Tensor], metadata: dict[str, str], path: Path) -> Path:
    from safetensors.torch import save_file

    model_hash, legacy = sshs_hashes(state, metadata)
    metadata = {**metadata, "sshs_model_hash": model_hash, "sshs_legacy_hash": legacy}
    path.parent.mkdir(parents=True, exist_ok=True)

    def write(tmp: Path) -> None:
        save_file(state, str(tmp), metadata=metadata)
        faults.point("output.written")
        apply_umask(tmp)

    replace_with(path, write)
    return path


def verify_adapter(path: Path, expected: dict[str, tuple[tuple[int, ...], tuple[int, ...]]]) -> int:
    """Read the file back; every module must be one of the base model's, shaped for it.

    `expected` maps kohya key -> (down shape, up shape). Returns the module count.
    """
    from safetensors import safe_open

    modules: dict[str, set[str]] = {}
    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata() or {}
        for key in handle.keys():  # noqa: SIM118 - a safetensors file handle, not a dict
            module, _, suffix = key.partition(".")
            if suffix not in ("lora_down.weight", "lora_up.weight", "alpha"):
                raise OutputError(f"{path.name}: unexpected tensor {key}", "this is a bug in stylora-tui; please report it")
            if module not in expected:
                raise OutputError(
                    f"{path.name}: {module} is not a module of the base model", "this is a bug in stylora-tui; please report it"
                )
            modules.setdefault(module, set()).add(suffix)
            shape = tuple(handle.get_slice(key).get_shape())
            down, up = expected[module]
            if (suffix == "lora_down.weight" and shape != down) or (suffix == "lora_up.weight" and shape != up):
                raise OutputError(f"{path.name}: {key} has shape {shape}", "this is a bug in stylora-tui; please report it")
    incomplete = [m for m, parts in modules.items() if len(parts) != 3]
    if incomplete or len(modules) != len(expected):
        raise OutputError(
            f"{path.name}: {len(modules)} of {len(expected)} modules written completely", "free disk space and save again"
        )
    if metadata.get("ss_base_model_version") != "sdxl_base_v1-0" or "modelspec.architecture" not in metadata:
        raise OutputError(f"{path.name}: SDXL metadata missing", "this is a bug in stylora-tui; please report it")
    return len(modules)
