"""The findings widget (the text itself is views.findings, shared with `check`)."""

from __future__ import annotations

from textual.widgets import Static

from stylora_tui.tui.palette import theme_palette
from stylora_tui.views.findings import findings_text


class FindingsView(Static):
    DEFAULT_CSS = "FindingsView { height: auto; }"

    def show(self, findings) -> None:
        self.update(findings_text(findings, palette=theme_palette(self.app)))
