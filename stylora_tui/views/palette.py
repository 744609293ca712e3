"""Colours by what they mean, not by name: the terminal's own for the CLI; the TUI builds
one from its theme (tui/palette.py), so a theme change reaches every renderer."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Palette:
    error: str = "red"
    warning: str = "yellow"
    success: str = "green"
    accent: str = "cyan"
    muted: str = "dim"


TERMINAL = Palette()
