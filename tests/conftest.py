from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Snapshots and Pilot tests must not depend on animation timing; Textual reads this at import.
os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Keep user presets, caches and runs of the developer's machine out of every test."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("STYLORA_RUNS_DIR", raising=False)
    return home


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `stylora-tui ARGS` as a user would, in a fresh interpreter."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "stylora_tui", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


PRACTICE_TAGS = ("1girl", "solo", "looking at viewer", "long hair", "smile", "outdoors", "sky", "cloud", "tree", "flower",
                 "school uniform", "blue eyes", "brown hair", "upper body", "holding", "standing", "day", "blush")


def write_practice_dataset(folder: Path, count: int = 30, size: tuple[int, int] = (1024, 1536), trigger: str = "stylorapractice",
                           fmt: str = "JPEG") -> Path:
    """A dataset at the practice's scale: `count` distinct images (1024x1536 by default) with
    WD14-style tag captions, the trigger first. Each image is a different smooth pattern so the
    near-duplicate check stays quiet, as on a real artist's folder."""
    import random

    from PIL import Image, ImageDraw

    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        rng = random.Random(index)
        image = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
        draw = ImageDraw.Draw(image)
        for _ in range(6):
            x, y = rng.randrange(size[0]), rng.randrange(size[1])
            r = rng.randrange(size[0] // 8, size[0] // 2)
            draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rng.randrange(256) for _ in range(3)))
        suffix = ".jpg" if fmt == "JPEG" else ".png"
        image.save(folder / f"{index:03d}{suffix}", fmt, quality=85) if fmt == "JPEG" else image.save(folder / f"{index:03d}{suffix}", fmt)
        tags = rng.sample(PRACTICE_TAGS, 8)
        (folder / f"{index:03d}.txt").write_text(", ".join((trigger, *tags)), encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def practice_dataset(tmp_path_factory) -> Path:
    """30 images at 1024x1536 with tag captions (built once; tests must not modify it)."""
    return write_practice_dataset(tmp_path_factory.mktemp("practice") / "hokusai", 30)
