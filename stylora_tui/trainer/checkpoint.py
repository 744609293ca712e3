"""Resumable checkpoints: complete before anything older is pruned.

`checkpoints/step-000400/` holds the adapter weights (fp32), the optimizer and scheduler
states, every RNG state and the sampler position. It is written as `step-000400.tmp/`,
gets its COMPLETE marker last, and is renamed; only then are older ones removed. A
reader only ever trusts a folder with the marker. A step that already has a complete
checkpoint is never saved again (the state is the same, and replacing it would open a
window with no complete state at all). Loading verifies every file and falls back to the
next newest checkpoint when one is damaged.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from stylora_tui.atomic import apply_umask, fsync_dir
from stylora_tui.trainer import faults

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
    found = [
        p
        for p in folder.iterdir()
        if p.is_dir() and p.name.startswith(PREFIX) and not p.name.endswith(".tmp") and (p / COMPLETE).is_file()
    ]
    return sorted(found, key=lambda p: int(p.name[len(PREFIX) :]))


def complete_at(folder: Path, step: int) -> Path | None:
    path = folder / checkpoint_name(step)
    return path if (path / COMPLETE).is_file() else None


def latest_checkpoint(folder: Path) -> Path | None:
    found = complete_checkpoints(folder)
    return found[-1] if found else None


def estimated_bytes(network: torch.nn.Module) -> int:
    # fp32 weights plus two Adam moments, with room for the metadata and RNG files.
    return sum(p.numel() for p in network.parameters()) * 4 * 3 + (4 << 20)


def bytes_on_disk(path: Path) -> int:
    return sum(f.stat().st_size for f in path.iterdir() if f.is_file())


def space_needed(folder: Path, network: torch.nn.Module) -> tuple[int, str]:
    """(bytes, why) the next checkpoint needs free: what the newest one took (the estimate
    before the first), plus 10 % and 1 MiB for the run's events and status. The older
    checkpoint stays until the new one is complete, but it is on disk already."""
    newest = latest_checkpoint(folder)
    try:
        size, basis = (bytes_on_disk(newest), f"as {newest.name} took") if newest else (estimated_bytes(network), "estimated")
    except OSError:
        size, basis = estimated_bytes(network), "estimated"
    return size + size // 10 + (1 << 20), f"{size / 2**20:.1f} MiB {basis}, plus 10 % and 1 MiB"


def rng_file(rank: int) -> str:
    return "rng.pt" if rank == 0 else f"rng-{rank}.pt"


def save_checkpoint(
    folder: Path,
    position: Position,
    network,
    optimizer,
    scheduler,
    generator: torch.Generator,
    keep: int,
    extra: dict,
    rank: int = 0,
    barrier=lambda: None,
) -> Path | None:
    """Every process calls this; rank 0 writes the shared state, each rank its own RNG.

    Returns the checkpoint on rank 0, None elsewhere.
    """
    from safetensors.torch import save_file

    final = folder / checkpoint_name(position.step)
    tmp = folder / f"{final.name}.tmp"
    if (final / COMPLETE).is_file():
        return final if rank == 0 else None
    if rank == 0:
        folder.mkdir(parents=True, exist_ok=True)
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        # Copies: the weights are views into the optimizer's flat tensors, which safetensors
        # would refuse as shared memory.
        state = {k: v.detach().to("cpu", copy=True).contiguous() for k, v in network.state_dict().items()}
        save_file(state, str(tmp / "network.safetensors"))
        apply_umask(tmp / "network.safetensors")
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
    faults.point("checkpoint.written")
    for file in tmp.iterdir():
        with open(file, "rb") as handle:
            os.fsync(handle.fileno())
    (tmp / COMPLETE).write_text("ok\n")
    faults.point("checkpoint.complete")
    if final.exists():
        # An incomplete leftover of a killed save (no COMPLETE marker): nothing to keep.
        shutil.rmtree(final)
    os.replace(tmp, final)
    fsync_dir(folder)
    faults.point("checkpoint.renamed")
    for old in complete_checkpoints(folder)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def remove_partial(folder: Path) -> None:
    """Drop `*.tmp` folders a killed save left behind (called at start, under the run's lock)."""
    if folder.is_dir():
        for leftover in folder.glob(f"{PREFIX}*.tmp"):
            shutil.rmtree(leftover, ignore_errors=True)


class DamagedCheckpoint(Exception):
    """A checkpoint whose files cannot be read back."""


def load_newest(folder: Path, network, optimizer, scheduler, generator: torch.Generator, rank: int = 0):
    """(checkpoint, position, state, skipped): the newest complete checkpoint that loads;
    `skipped` lists (name, why) for damaged newer ones. (None, ...) when there is none."""
    skipped: list[tuple[str, str]] = []
    for path in reversed(complete_checkpoints(folder)):
        try:
            position, state = load_checkpoint(path, network, optimizer, scheduler, generator, rank)
        except DamagedCheckpoint as exc:
            skipped.append((path.name, str(exc)))
            continue
        return path, position, state, skipped
    return None, Position(0, 1, 0), {}, skipped


def load_checkpoint(
    path: Path, network, optimizer, scheduler, generator: torch.Generator, rank: int = 0
) -> tuple[Position, dict]:
    try:
        return _load(path, network, optimizer, scheduler, generator, rank)
    except Exception as exc:  # safetensors, torch.load, zip and json each raise their own types
        raise DamagedCheckpoint(f"{type(exc).__name__}: {exc}"[:300]) from exc


def _load(path: Path, network, optimizer, scheduler, generator: torch.Generator, rank: int) -> tuple[Position, dict]:
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
