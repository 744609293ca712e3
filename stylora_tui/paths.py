"""Where stylora-tui keeps things outside the runs root (XDG base directories)."""

from __future__ import annotations

import os
from pathlib import Path

APP = "stylora-tui"


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var, "").strip()
    # The XDG spec says relative paths are invalid and must be ignored.
    base = Path(value) if value and os.path.isabs(value) else Path.home() / fallback
    return base / APP


def config_dir() -> Path:
    return _xdg("XDG_CONFIG_HOME", ".config")


def cache_dir() -> Path:
    return _xdg("XDG_CACHE_HOME", ".cache")


def state_dir() -> Path:
    return _xdg("XDG_STATE_HOME", ".local/state")


def user_presets_dir() -> Path:
    return config_dir() / "presets"


def package_dir() -> Path:
    return Path(__file__).resolve().parent


def shipped_presets_dir() -> Path:
    return package_dir() / "presets"


def examples_dir() -> Path:
    return package_dir() / "examples"
