"""Atomic file replacement: a reader sees the old file or the new one, never half of one.

Every file stylora-tui writes for someone else to read goes through `replace_with` (write
a private temp file beside it, then rename over it); folders that are built and then
published (the demo model, the SDXL config folder) through `publish_dir`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path


def replace_with(path: Path, write: Callable[[Path], object], durable: bool = True) -> Path:
    """`write(tmp)` fills a temp file beside `path` (its name private to this process, so two
    writers never share one), which then replaces `path` in one rename. `durable` fsyncs the
    file and its folder, so the rename survives a power cut."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        if durable:
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)
    return path


def write_bytes_atomic(path: Path, data: bytes) -> None:
    replace_with(path, lambda tmp: tmp.write_bytes(data))


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: Path, data: object) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def fsync_dir(directory: Path) -> None:
    # The rename itself is durable only once the directory entry is flushed.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def umask() -> int:
    """The process umask, read without changing it where Linux allows (the os.umask
    round trip briefly changes it for every thread)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def apply_umask(path: Path) -> None:
    """safetensors writes 0600 files; give ours the mode any other new file gets (0644 under
    the usual umask), so a deliverable is as shareable as the user's own files."""
    os.chmod(path, 0o666 & ~umask())


# What replace_with and publish_dir stage beside their target: `.NAME.<pid>.tmp` and `NAME.<pid>.tmp`.
STAGED = re.compile(r"^\.?.+\.(\d+)\.tmp$")


def remove_stale(folder: Path, recursive: bool = False) -> list[Path]:
    """Remove what writers that died (kill -9, a reclaimed machine) left staged in `folder`:
    never renamed into place, it would only lie there. A live writer's file is kept."""
    removed: list[Path] = []
    try:
        entries = list(folder.rglob("*") if recursive else folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = STAGED.match(entry.name)
        if match and not pid_alive(int(match.group(1))):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed


def publish_dir(folder: Path, build: Callable[[Path], object]) -> None:
    """Build into a private staging folder, then rename it into place; when several
    processes race (several GPUs on a first run), the first rename wins. Staging folders
    left by a build that died are removed first: they would never be published."""
    remove_stale(folder.parent)
    staging = folder.with_name(f"{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    build(staging)
    try:
        staging.rename(folder)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not folder.is_dir():
            raise


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (one we may not signal counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
