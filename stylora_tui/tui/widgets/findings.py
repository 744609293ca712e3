"""Findings grouped by severity, with file names; one line per finding group."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from stylora_tui.display import printable
from stylora_tui.findings import Severity

STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "dim"}
SHOWN = 3


def findings_text(findings) -> Text:
    text = Text()
    groups: dict = {}
    for finding in findings:
        groups.setdefault((finding.severity, finding.code), []).append(finding)
    if not groups:
        text.append("no problems found", style="green")
    for (severity, code), members in groups.items():
        text.append(f"{severity.value} ", style=STYLE[severity])
        text.append(f"{code} ({len(members)})\n", style="bold")
        for finding in members[:SHOWN]:
            where = f"{finding.path}: " if finding.path else ""
            text.append(f"  {printable(where)}{printable(finding.message)}\n")
        if len(members) > SHOWN:
            text.append(f"  ... {len(members) - SHOWN} more\n", style="dim")
        text.append(f"  hint: {printable(members[0].hint)}\n", style="dim italic")
    return text


class FindingsView(Static):
    DEFAULT_CSS = "FindingsView { height: auto; }"

    def show(self, findings) -> None:
        self.update(findings_text(findings))
