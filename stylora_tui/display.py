"""Strings from a user's files, made safe to show in a terminal.

File names, captions, preset keys and kohya values can hold escape sequences (screen
clears, OSC 52 clipboard writes, title changes) and bidi overrides that would act on the
terminal instead of being shown. Every such string is shown with those characters
written out (`\\x1b`), in the CLI and the TUI alike; markup escaping (Rich's `[`) is the
renderer's job on top of this.
"""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, and the invisible direction overrides that reorder what is shown.
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escaped(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object) -> str:
    """`text` with every terminal control character written out as an escape."""
    return UNSAFE.sub(_escaped, str(text))


def printable_lines(text: object) -> str:
    """As `printable`, keeping line breaks (a message that lists several problems)."""
    return "\n".join(printable(line) for line in str(text).split("\n"))
