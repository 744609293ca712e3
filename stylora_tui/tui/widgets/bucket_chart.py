"""The bucket chart widget (the chart itself is views.buckets, shared with `check`)."""

from __future__ import annotations

from textual.widgets import Static

from stylora_tui.tui.palette import theme_palette
from stylora_tui.views.buckets import bucket_text


class BucketChart(Static):
    DEFAULT_CSS = "BucketChart { height: auto; }"

    def show(self, steps) -> None:
        self.update(bucket_text(steps, palette=theme_palette(self.app)))
