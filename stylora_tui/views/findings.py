"""Findings as people read them, for the CLI and the TUI alike: grouped by severity and
code, a few files each, the hint once; every user string escaped (file names and captions
can hold terminal escape sequences and markup)."""

from __future__ import annotations

from rich.text import Text

from stylora_tui.display import printable
from stylora_tui.findings import Severity
from stylora_tui.views.palette import TERMINAL, Palette


def findings_text(findings, shown: int = 3, more: str = "", palette: Palette = TERMINAL) -> Text:
    """`shown` files per group; `more` follows the count of the rest (e.g. where to see them)."""
    style = {Severity.ERROR: f"bold {palette.error}", Severity.WARNING: palette.warning, Severity.INFO: palette.muted}
    text = Text()
    groups: dict = {}
    for finding in findings:
        groups.setdefault((finding.severity, finding.code), []).append(finding)
    if not groups:
        text.append("no problems found", style=palette.success)
    for (severity, code), members in groups.items():
        text.append(f"{severity.value} ", style=style[severity])
        text.append(f"{code} ({len(members)})\n", style="bold")
        for finding in members[:shown]:
            where = f"{finding.path}: " if finding.path else ""
            text.append(f"  {printable(where)}{printable(finding.message)}\n")
        if len(members) > shown:
            text.append(f"  ... {len(members) - shown} more{more}\n", style=palette.muted)
        text.append(f"  hint: {printable(members[0].hint)}\n", style=f"{palette.muted} italic")
    return text
