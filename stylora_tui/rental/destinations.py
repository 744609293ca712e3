"""Where a run is mirrored, and how it comes back: a folder (a mounted volume, a network
share), an rsync-over-ssh destination, or a private hub repo.

What is sent: the run folder as it stands (config, manifest, events, status, outputs,
previews, judging and suggestion files, logs) and, when asked, the newest complete
checkpoint; never the lock, pending control intents, temporary files or older checkpoints.
A mirrored checkpoint is usable only once its COMPLETE marker is there, and the marker is
always sent last, so a mirror cut off mid-send still holds the previous complete one.
Each run goes under its own name: `<to>/<run>/`.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from stylora_tui.errors import StyloraError
from stylora_tui.run.layout import RunDir
from stylora_tui.run.summary import newest_checkpoint_step

COMPLETE = "COMPLETE"
HELD = ".mirror-held"
NEVER_SENT = ("lock", "control", HELD)  # the trainer's lock and pending intents are this machine's own
RSYNC_SSH = "ssh -o BatchMode=yes -o ConnectTimeout=20"  # never a password prompt in a detached process
REMOTE = re.compile(r"^(?:[^@/\s]+@)?[A-Za-z0-9][A-Za-z0-9.\-]*:(?!//)")  # user@host:path, host:path
HUB = "hf://"


class MirrorError(StyloraError):
    pass


def checkpoint_name(step: int) -> str:
    return f"step-{step:06d}"


def files_to_send(run: RunDir) -> list[str]:
    """The run folder's files, relative, outside checkpoints/ (sent on their own), without
    anything in the making (`*.tmp`) or hidden: those are this machine's own and come and go
    while the trainer runs (the disk-space reserve, staged writes, the held checkpoint)."""
    found = []
    for path in sorted(run.path.rglob("*")):
        rel = path.relative_to(run.path)
        if rel.parts[0] in (*NEVER_SENT, "checkpoints") or any(p.startswith(".") or ".tmp" in p for p in rel.parts):
            continue
        if path.is_file():
            found.append(str(rel))
    return found


def newest_checkpoint(run: RunDir) -> str | None:
    step = newest_checkpoint_step(run)
    return checkpoint_name(step) if step is not None else None


@contextlib.contextmanager
def held_checkpoint(run: RunDir, wanted: bool = True) -> Iterator[tuple[str, Path] | None]:
    """The newest complete checkpoint, hard-linked aside for the length of a send: the
    trainer drops older checkpoints as it saves newer ones (keep_checkpoints), and a send
    that lost its checkpoint halfway would fail and wait out a back-off, again and again
    while checkpoints come faster than they travel. Links cost no space; where the file
    system has none, the files are copied."""
    held = run.path / HELD
    shutil.rmtree(held, ignore_errors=True)
    try:
        yield _hold_newest(run, held) if wanted else None
    finally:
        shutil.rmtree(held, ignore_errors=True)


def _hold_newest(run: RunDir, held: Path) -> tuple[str, Path] | None:
    for _ in range(5):
        newest = newest_checkpoint(run)
        if newest is None:
            return None
        source, target = run.checkpoints / newest, held / newest
        try:
            for path in sorted(source.rglob("*")):
                if path.is_file():
                    _link_or_copy(path, target / path.relative_to(source))
        except FileNotFoundError:  # replaced by a newer one while it was linked: hold that
            shutil.rmtree(held, ignore_errors=True)
            continue
        if (target / COMPLETE).is_file():
            return newest, target
    return None


def _link_or_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except FileNotFoundError:
        raise
    except OSError:
        shutil.copy2(source, target)


@dataclass(frozen=True)
class Folder:
    root: Path

    def describe(self) -> str:
        return str(self.root)

    def push(self, run: RunDir, checkpoints: bool) -> None:
        target = self.root / run.name
        for rel in files_to_send(run):
            # A file the trainer removed since the listing is no longer part of the run.
            with contextlib.suppress(FileNotFoundError):
                _copy_if_changed(run.path / rel, target / rel)
        with held_checkpoint(run, checkpoints) as held:
            if held is not None:
                newest, source = held
                mirrored = target / "checkpoints" / newest
                for path in sorted(source.rglob("*")):
                    if path.is_file() and path.name != COMPLETE:
                        _copy_if_changed(path, mirrored / path.relative_to(source))
                _copy_if_changed(source / COMPLETE, mirrored / COMPLETE)
                _drop_older(target / "checkpoints", newest)

    def pull(self, name: str, into: Path) -> None:
        source = self.root / name
        if not self.root.is_dir():
            raise MirrorError(f"mirror folder {self.root} does not exist", "mount it, or check the path `[mirror] to` named")
        if not (source / "config.toml").is_file():
            held = sorted(p.parent.name for p in self.root.glob("*/config.toml"))
            where = f"it holds {', '.join(held)}" if held else f"it holds no run: was {self.root} the run's `[mirror] to`?"
            raise MirrorError(f"{source} holds no mirrored run {name!r}", where)
        shutil.copytree(source, into, dirs_exist_ok=True)


def _copy_if_changed(source: Path, target: Path) -> None:
    """Copy unless the mirror already has this size and modification time; written beside
    and renamed, so a reader of the mirror never sees half a file."""
    stat = source.stat()
    try:
        there = target.stat()
        if there.st_size == stat.st_size and there.st_mtime_ns == stat.st_mtime_ns:
            return
    except FileNotFoundError:
        pass
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(target.name + ".mirror-tmp")
    shutil.copy2(source, temporary)
    os.replace(temporary, target)


def _drop_older(folder: Path, keep: str) -> None:
    for path in folder.iterdir():
        if path.is_dir() and path.name.startswith("step-") and path.name < keep and (folder / keep / COMPLETE).is_file():
            shutil.rmtree(path, ignore_errors=True)


@dataclass(frozen=True)
class Rsync:
    """`user@host:path` with the system rsync over ssh (keys or an agent; never a prompt)."""

    address: str

    def describe(self) -> str:
        return self.address

    def _rsync(self, *args: str) -> None:
        if shutil.which("rsync") is None:
            raise MirrorError("rsync is not installed here", "apt-get install rsync (or make install, which does)")
        command = ["rsync", "-a", "--partial", "-e", os.environ.get("STYLORA_RSYNC_SSH", RSYNC_SSH), *args]
        result = subprocess.run(command, capture_output=True, text=True, timeout=6 * 3600)
        # 24: files vanished between rsync's listing and their transfer (the trainer
        # replaced or removed them); what is there was sent, the next send follows.
        if result.returncode not in (0, 24):
            said = (result.stderr.strip().splitlines() or [f"exit {result.returncode}"])[-1]
            raise MirrorError(f"rsync to {self.address} failed: {said}", "check the address, the ssh key and the space there")

    def _remote(self, *parts: str) -> str:
        return self.address.rstrip("/") + "/" + "/".join(parts)

    def push(self, run: RunDir, checkpoints: bool) -> None:
        # Excluded paths are also kept from --delete: the mirror's checkpoints stay.
        excludes = [f"--exclude=/{name}" for name in (*NEVER_SENT, "checkpoints")] + ["--exclude=*.tmp", "--exclude=.*"]
        self._rsync(*excludes, "--delete", f"{run.path}/", self._remote(run.name) + "/")
        with held_checkpoint(run, checkpoints) as held:
            if held is not None:
                newest, source = held
                target = self._remote(run.name, "checkpoints") + "/"
                # The checkpoint without its marker, then the marker, dropping older ones: the
                # held folder holds only the newest, so --delete cannot take it.
                self._rsync(f"--exclude=/{newest}/{COMPLETE}", f"{source.parent}/", target)
                self._rsync("--delete", f"{source.parent}/", target)

    def pull(self, name: str, into: Path) -> None:
        into.mkdir(parents=True, exist_ok=True)
        self._rsync(self._remote(name) + "/", f"{into}/")
        if not (into / "config.toml").is_file():
            raise MirrorError(f"{self._remote(name)} holds no mirrored run {name!r}", "check the address and the run name")


def parse(spec: str):
    """The destination `mirror.to` names: a Folder, an Rsync or a HubRepo (rental/hub_mirror.py)."""
    spec = spec.strip()
    if not spec:
        raise MirrorError("no mirror is set", 'set [mirror] to = "/mnt/volume/runs" (or user@host:path, hf://org/repo)')
    if spec.startswith(HUB):
        from stylora_tui.rental.hub_mirror import HubRepo

        return HubRepo.from_spec(spec)
    if REMOTE.match(spec):
        return Rsync(spec)
    return Folder(Path(spec).expanduser().absolute())
