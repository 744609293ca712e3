"""GPU telemetry from the run's gpu.sample events."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from stylora_tui.display import printable
from stylora_tui.views.gpu import gpu_line


class GpuPanel(Static):
    DEFAULT_CSS = "GpuPanel { height: auto; color: $text-muted; }"

    def show(self, gpu: dict | None, error: str) -> None:
        self.update(Text(printable(gpu_line(gpu, error))))
