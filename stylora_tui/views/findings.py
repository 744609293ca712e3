"""Findings as people read them, for the CLI and the TUI alike: grouped by severity and
code, a few files each, the hint once; every user string escaped (file names and captions
can hold terminal escape sequences and markup)."""

from __future__ import annotations

from rich.text import Text

from stylora_tui.display import printable
from stylora_tui.findings import Severity

STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "dim"}


def findings_text(findings, shown: int = 3, more: str = "") -> Text:
    """`shown` files per group; `more` follows the count of the rest (e.g. where to see them)."""
    text = Text()
    groups: dict = {}
    for finding in findings:
        groups.setdefault((finding.severity, finding.code), []).append(finding)
    if not groups:
        text.append("no problems found", style="green")
    for (severity, code), members in groups.items():
        text.append(f"{severity.value} ", style=STYLE[severity])
        text.append(f"{code} ({len(members)})\n", style="bold")
        for finding in members[:shown]:
            where = f"{finding.path}: " if finding.path else ""
            text.append(f"  {printable(where)}{printable(finding.message)}\n")
        if len(members) > shown:
            text.append(f"  ... {len(members) - shown} more{more}\n", style="dim")
        text.append(f"  hint: {printable(members[0].hint)}\n", style="dim italic")
    return text
