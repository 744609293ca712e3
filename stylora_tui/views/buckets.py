"""The bucket table as a small bar chart, for `check` and the wizard's dataset step."""

from __future__ import annotations

from rich.text import Text

from stylora_tui.dataset.buckets import aspect_label
from stylora_tui.views.palette import TERMINAL, Palette


def bucket_text(steps, width: int = 24, limit: int = 8, palette: Palette = TERMINAL) -> Text:
    text = Text()
    widest = max((b.count for b in steps.buckets), default=1)
    for b in steps.buckets[:limit]:
        bar = "█" * max(1, round(width * b.count / widest))
        text.append(f"{b.width:>4}x{b.height:<4} {aspect_label(b.width, b.height):>5} ")
        text.append(bar, style=palette.accent)
        text.append(f" {b.count} img x{b.draws // max(b.count, 1)}\n")
    if len(steps.buckets) > limit:
        text.append(f"... {len(steps.buckets) - limit} more buckets\n", style=palette.muted)
    text.append(f"{steps.steps_per_epoch} steps/epoch (batch {steps.batch_size}) x {steps.epochs} epochs = ", style="bold")
    text.append(f"{steps.total_steps} steps", style=f"bold {palette.success}")
    return text
