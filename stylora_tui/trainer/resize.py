"""Shrink a LoCon/LoRA file by SVD, keeping its effect (FIELD-NOTES, Part 2).

Per module: W = up @ down (a 3x3 conv's down reshaped to (rank, in*9)), SVD, keep rank r
(fixed, or the smallest r whose cumulative S^2 reaches p^2 of the total: `--fro p`). The
singular values go to the up side so the kernel stays on the down side, as kohya's
resize does. alpha is rescaled to (alpha / old_rank) * r, so alpha / rank, and with it
the applied strength, is unchanged at the kept rank.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch

from stylora_tui.errors import StyloraError


class ResizeError(StyloraError):
    title = "resize error"


@dataclass(frozen=True)
class ModuleResize:
    key: str
    old_rank: int
    new_rank: int
    retained_fro: float | None  # share of ||W||_F kept: sqrt(sum kept S^2 / sum S^2); None: all zero

    @property
    def all_zero(self) -> bool:
        """Nothing to keep: the module never moved from zero (an untrained or dead module)."""
        return self.retained_fro is None


@dataclass(frozen=True)
class ResizeResult:
    modules: tuple[ModuleResize, ...]
    bytes_before: int
    bytes_after: int
    output: Path


def _modules(state: dict[str, torch.Tensor]) -> list[str]:
    keys = sorted({k.rsplit(".lora_down.weight", 1)[0] for k in state if k.endswith(".lora_down.weight")})
    for key in keys:
        for part in ("lora_up.weight", "alpha"):
            if f"{key}.{part}" not in state:
                raise ResizeError(
                    f"{key} has no {part}", "resize reads LoRA/LoCon files in kohya's layout (lora_down, lora_up, alpha)"
                )
    extra = [k for k in state if not k.endswith((".lora_down.weight", ".lora_up.weight", ".alpha"))]
    if extra:
        raise ResizeError(
            f"{extra[0]} is not a LoRA/LoCon tensor (LoHa, LoKr, Tucker?)", "resize handles plain LoRA and LoCon files"
        )
    return keys


def rank_for(singular: torch.Tensor, rank: int | None, fro: float | None) -> int:
    if rank is not None:
        return max(1, min(rank, singular.numel()))
    energy = singular.double() ** 2
    cumulative = torch.cumsum(energy, 0) / energy.sum().clamp_min(1e-30)
    # The smallest r with sqrt(cumulative) >= fro; a tiny tolerance for float round-off.
    return max(1, min(int((cumulative < fro**2 - 1e-12).sum().item()) + 1, singular.numel()))


def resize_module(down: torch.Tensor, up: torch.Tensor, alpha: float, rank: int | None, fro: float | None):
    """(new_down, new_up, new_alpha, ModuleResize fields) for one module."""
    old_rank = down.shape[0]
    conv = down.dim() == 4
    weight = up.reshape(up.shape[0], old_rank).double() @ down.reshape(old_rank, -1).double()
    u, s, vh = torch.linalg.svd(weight, full_matrices=False)
    new_rank = rank_for(s, rank, fro)
    energy = float((s**2).sum())
    retained = math.sqrt(float((s[:new_rank] ** 2).sum()) / energy) if energy > 0 else None
    new_up = u[:, :new_rank] * s[:new_rank]
    new_down = vh[:new_rank]
    if conv:
        new_down = new_down.reshape(new_rank, *down.shape[1:])
        new_up = new_up.reshape(up.shape[0], new_rank, 1, 1)
    new_alpha = alpha / old_rank * new_rank
    return new_down, new_up, new_alpha, old_rank, new_rank, retained


def resize_file(
    source: Path, output: Path, rank: int | None = None, fro: float | None = None, *, force: bool = False
) -> ResizeResult:
    from safetensors import safe_open
    from safetensors.torch import load_file

    from stylora_tui.trainer.output import save_adapter

    if (rank is None) == (fro is None):
        raise ResizeError(
            "give exactly one of --rank N or --fro P", "e.g. --rank 16, or --fro 0.9 to keep 90% of each module's norm"
        )
    if rank is not None and rank < 1:
        raise ResizeError(f"--rank {rank} must be at least 1", "e.g. --rank 16")
    if fro is not None and not 0 < fro <= 1:
        raise ResizeError(f"--fro {fro} must be in (0, 1]", "e.g. --fro 0.9")
    if not source.is_file():
        raise ResizeError(f"{source} does not exist", "give a .safetensors LoRA/LoCon file")
    if output.resolve() == source.resolve():
        raise ResizeError("the output would overwrite the input", "write the resized file under another name")
    if output.exists() and not force:
        raise ResizeError(f"{output} already exists", "choose another name, or pass --force to replace it")
    try:
        with safe_open(str(source), framework="pt") as handle:
            metadata = dict(handle.metadata() or {})
        state = load_file(str(source))
    except Exception as exc:  # safetensors raises its own error types for a bad file
        raise ResizeError(
            f"{source.name} is not a readable .safetensors file: {exc}", "check the file is a finished adapter"
        ) from None
    dtype = next(iter(state.values())).dtype
    if rank is not None:
        largest = max((state[f"{key}.lora_down.weight"].shape[0] for key in _modules(state)), default=0)
        if rank >= largest:
            raise ResizeError(
                f"--rank {rank} is not below the file's rank ({largest}): the file would only grow",
                f"choose a rank below {largest} (e.g. --rank {max(1, largest // 4)}), or --fro 0.9",
            )
    results = {}
    for key in _modules(state):
        down, up = state[f"{key}.lora_down.weight"], state[f"{key}.lora_up.weight"]
        results[key] = resize_module(down, up, float(state[f"{key}.alpha"]), rank, fro)
    shared_alpha = _shared_alpha(results) if fro is not None else None
    resized: dict[str, torch.Tensor] = {}
    modules = []
    for key, (new_down, new_up, new_alpha, old_rank, new_rank, retained) in results.items():
        if shared_alpha is not None:
            # Dynamic ranks: one alpha for every module, each module's own scale folded
            # into its up weights. alpha/rank per module is then all a loader needs, and
            # diffusers never has to build a per-module alpha pattern (which it mis-keys
            # for SDXL files and then ignores, silently changing those modules' strength).
            new_up = new_up * (new_alpha / shared_alpha)
            new_alpha = shared_alpha
        resized[f"{key}.lora_down.weight"] = new_down.to(dtype).contiguous()
        resized[f"{key}.lora_up.weight"] = new_up.to(dtype).contiguous()
        resized[f"{key}.alpha"] = torch.tensor(new_alpha, dtype=state[f"{key}.alpha"].dtype)
        modules.append(ModuleResize(key, old_rank, new_rank, retained))
    metadata = updated_metadata(metadata, modules, rank, fro)
    for name in ("sshs_model_hash", "sshs_legacy_hash"):
        metadata.pop(name, None)
    save_adapter(resized, metadata, output)
    return ResizeResult(tuple(modules), source.stat().st_size, output.stat().st_size, output)


def _shared_alpha(results: dict) -> float:
    """The alpha the most common new rank would have: most modules keep their own."""
    from collections import Counter

    common_rank, _ = Counter(r[4] for r in results.values()).most_common(1)[0]
    return next(r[2] for r in results.values() if r[4] == common_rank)


def updated_metadata(metadata: dict, modules: list[ModuleResize], rank: int | None, fro: float | None) -> dict:
    metadata = dict(metadata)
    if rank is not None:
        linear = [m for m in modules if "conv" not in m.key]
        metadata["ss_network_dim"] = str(rank)
        if metadata.get("ss_network_alpha") and linear:
            old_alpha = float(metadata["ss_network_alpha"])
            metadata["ss_network_alpha"] = f"{old_alpha / linear[0].old_rank * min(rank, linear[0].old_rank):g}"
        try:
            args = json.loads(metadata.get("ss_network_args", "{}"))
        except ValueError:
            args = {}
        if "conv_dim" in args:
            old_conv = float(args["conv_dim"])
            args["conv_alpha"] = f"{float(args.get('conv_alpha', old_conv)) / old_conv * min(rank, old_conv):g}"
            args["conv_dim"] = str(rank)
            metadata["ss_network_args"] = json.dumps(args)
    else:
        metadata["ss_network_dim"] = "Dynamic"
        metadata["ss_network_alpha"] = "Dynamic"
    metadata["ss_training_comment"] = (
        metadata.get("ss_training_comment", "") + f" | resized by stylora-tui ({'rank ' + str(rank) if rank else f'fro {fro:g}'})"
    ).strip(" |")
    return metadata
