"""Resumable checkpoints: complete before anything older is pruned.

`checkpoints/step-000400/` holds the adapter weights (fp32), the optimizer and scheduler
states, every RNG state and the sampler position. It is written as `step-000400.tmp/`,
gets its COMPLETE marker last, and is renamed; only then are older ones removed. A
reader only ever trusts a folder with the marker.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

COMPLETE = "COMPLETE"
PREFIX = "step-"


@dataclass(frozen=True)
class Position:
    step: int  # optimizer steps done
    epoch: int  # the epoch to continue (1-based)
    batch: int  # the batch index within that epoch to continue at
    train_s: float = 0.0


def checkpoint_name(step: int) -> str:
    return f"{PREFIX}{step:06d}"


def complete_checkpoints(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if p.is_dir() and p.name.startswith(PREFIX) and not p.name.endswith(".tmp") and (p / COMPLETE).is_file()]
    return sorted(found, key=lambda p: int(p.name[len(PREFIX) :]))


def latest_checkpoint(folder: Path) -> Path | None:
    found = complete_checkpoints(folder)
    return found[-1] if found else None


def estimated_bytes(network: torch.nn.Module) -> int:
    # fp32 weights plus two Adam moments, with room for the metadata and RNG files.
    return sum(p.numel() for p in network.parameters()) * 4 * 3 + (4 << 20)


def rng_file(rank: int) -> str:
    return "rng.pt" if rank == 0 else f"rng-{rank}.pt"


def save_checkpoint(folder: Path, position: Position, network, optimizer, scheduler, generator: torch.Generator, keep: int,
                    extra: dict, rank: int = 0, barrier=lambda: None) -> Path | None:
    """Every process calls this; rank 0 writes the shared state, each rank its own RNG.

    Returns the checkpoint on rank 0, None elsewhere.
    """
    from safetensors.torch import save_file

    final = folder / checkpoint_name(position.step)
    tmp = folder / f"{final.name}.tmp"
    if rank == 0:
        folder.mkdir(parents=True, exist_ok=True)
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        state = {k: v.detach().to("cpu").contiguous() for k, v in network.state_dict().items()}
        save_file(state, str(tmp / "network.safetensors"))
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
        (tmp / "state.json").write_text(json.dumps({**asdict(position), **extra}, indent=2), encoding="utf-8")
    barrier()
    rng = {"generator": generator.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    torch.save(rng, tmp / rng_file(rank))
    barrier()
    if rank != 0:
        return None
    for file in tmp.iterdir():
        with open(file, "rb") as handle:
            os.fsync(handle.fileno())
    (tmp / COMPLETE).write_text("ok\n")
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    _fsync_dir(folder)
    for old in complete_checkpoints(folder)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load_checkpoint(path: Path, network, optimizer, scheduler, generator: torch.Generator, rank: int = 0) -> tuple[Position, dict]:
    from safetensors.torch import load_file

    network.load_state_dict(load_file(str(path / "network.safetensors")), strict=True)
    optimizer.load_state_dict(torch.load(path / "optimizer.pt", weights_only=True))
    scheduler.load_state_dict(torch.load(path / "scheduler.pt", weights_only=True))
    rng = torch.load(path / rng_file(rank), weights_only=True)
    generator.set_state(rng["generator"])
    torch.set_rng_state(rng["torch"])
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    state = json.loads((path / "state.json").read_text(encoding="utf-8"))
    position = Position(state["step"], state["epoch"], state["batch"], state.get("train_s", 0.0))
    return position, state


def restore_weights(path: Path, network) -> None:
    from safetensors.torch import load_file

    network.load_state_dict(load_file(str(path / "network.safetensors")), strict=True)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
