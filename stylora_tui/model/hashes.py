"""Content hashes of base models, cached so a 7 GB checkpoint is hashed once.

The full-file SHA-256 is what CivitAI and A1111 show as a model's hash (and kohya writes
as ss_new_sd_model_hash). The run manifest records it, so a resume can refuse a base
model that changed since launch.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from stylora_tui import paths
from stylora_tui.atomic import write_json_atomic

DEMO = "demo"


def _cache_file() -> Path:
    return paths.cache_dir() / "model-hashes.json"


def file_sha256(path: Path, chunk: int = 8 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _weight_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in (".safetensors", ".bin", ".json", ".txt"))


def model_hash(path: str | Path) -> str:
    """SHA-256 of a checkpoint file, or of a diffusers folder's files in order."""
    if str(path) == DEMO:
        return DEMO
    path = Path(path).expanduser().absolute()
    files = _weight_files(path)
    stamp = [(str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files]
    cache_path = _cache_file()
    try:
        cache = json.loads(cache_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cache = {}
    entry = cache.get(str(path))
    if entry and entry.get("stamp") == [list(s) for s in stamp]:
        return entry["sha256"]
    if path.is_file():
        value = file_sha256(path)
    else:
        digest = hashlib.sha256()
        for file in files:
            digest.update(str(file.relative_to(path)).encode())
            digest.update(file_sha256(file).encode())
        value = digest.hexdigest()
    cache[str(path)] = {"stamp": stamp, "sha256": value}
    try:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(cache_path, cache)
    except OSError:
        pass
    return value
