"""Shared output helpers: JSON to stdout, Rich for people."""

from __future__ import annotations

import json
import sys


def print_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def console(stderr: bool = False):
    from rich.console import Console

    # Soft wrap: a printed command or path must stay copy-pasteable, never split at 80 columns.
    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def safe(text: object) -> str:
    """A user's string for a Rich markup line: control characters and markup escaped."""
    from rich.markup import escape

    from stylora_tui.display import printable

    return escape(printable(text))
