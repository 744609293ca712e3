"""Epochs side by side: samples in the terminal, validation loss, style score and copy
alarm, the suggested epoch, and the chosen one.

Images use textual-image: the kitty graphics protocol or sixel where the terminal has
them, half-block characters otherwise; STYLORA_IMAGES=auto|kitty|sixel|halfcell|unicode
overrides the detection (some SSH setups and multiplexers hide what the terminal can do).
"""

from __future__ import annotations

import os
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from stylora_tui.choose.compare import compare_runs
from stylora_tui.choose.judge import Judged
from stylora_tui.choose.samples import EpochSamples, choose_best, chosen_epoch, epoch_samples
from stylora_tui.choose.sheet import is_suggested
from stylora_tui.display import printable
from stylora_tui.errors import StyloraError
from stylora_tui.run.layout import RunDir
from stylora_tui.run.suggestion import Suggestion
from stylora_tui.tui.dialogs.confirm import ConfirmDialog

IMAGE_ENV = "STYLORA_IMAGES"


def image_widget_class():
    """The textual-image widget for the chosen protocol (imported only when shown)."""
    choice = os.environ.get(IMAGE_ENV, "auto").lower()
    from textual_image import widget

    return {
        "kitty": widget.TGPImage,
        "sixel": widget.SixelImage,
        "halfcell": widget.HalfcellImage,
        "unicode": widget.UnicodeImage,
    }.get(choice, widget.Image)


class EpochsScreen(Screen):
    BINDINGS = [
        Binding("b", "choose", "Use this epoch"),
        Binding("escape,q", "app.pop_screen", "Back"),
    ]
    DEFAULT_CSS = """
    EpochsScreen #epochs { width: 30; }
    EpochsScreen #pictures { height: 1fr; }
    EpochsScreen #pictures > * { width: 1fr; height: 1fr; }
    """

    def __init__(self, run: RunDir) -> None:
        super().__init__()
        self.run = run
        self.rows: list[EpochSamples] = []
        self.judged: dict[str, Judged] = {}  # by sample label: the preview sets of saved epochs
        self.suggestion: Suggestion | None = None

    def compose(self) -> ComposeResult:
        yield Static(f"stylora-tui · epochs · {self.run.name}", classes="step-title")
        with Horizontal():
            yield OptionList(id="epochs")
            with Vertical():
                yield Static("", id="prompt", classes="help")
                yield Horizontal(id="pictures")
        yield Static("", id="chosen", classes="help")
        yield Footer()

    def label(self, samples: EpochSamples) -> str:
        name = f"epoch {samples.epoch}" if samples.saved_epoch else f"step {samples.step}"
        if samples.strength != 1.0:
            name = f"e{samples.epoch} at {samples.strength:g}"
        if samples.validation_loss is not None:
            best = min(r.validation_loss for r in self.rows if r.validation_loss is not None)
            name += f" {samples.validation_loss:.4f}" + ("★" if samples.validation_loss == best else "")
        judged = self.judged.get(samples.label)
        if judged is not None and judged.copies:
            name += " ⚠"
        if judged is not None and is_suggested(judged, self.suggestion):
            name += " ◀"
        return name

    def details(self, samples: EpochSamples) -> str:
        judged = self.judged.get(samples.label)
        parts = []
        if judged is not None and judged.style_score is not None:
            parts.append(f"style {judged.style_score:.3f}")
        if judged is not None and judged.copies:
            names = sorted({Path(c.training_image).name for c in judged.copies})
            parts.append("copies " + ", ".join(names))
        if judged is not None and is_suggested(judged, self.suggestion):
            parts.append("suggested")
        return " · ".join(parts)

    def on_mount(self) -> None:
        self.query_one("#prompt", Static).update("reading the run's samples and validation losses...")
        self.load()

    @work(thread=True, exclusive=True, group="epochs")
    def load(self) -> None:
        # The validation losses come from the whole event log (megabytes on a long run), and
        # judging a preview set the trainer has not judged takes a moment.
        rows = [s for s in epoch_samples(self.run) if s.images]
        try:
            comparison = compare_runs([self.run])
            judged, suggestion = {j.samples.label: j for j in comparison.judged}, comparison.suggestion
        except StyloraError:
            judged, suggestion = {}, None
        self.app.call_from_thread(self.loaded, rows, chosen_epoch(self.run), judged, suggestion)

    def loaded(
        self,
        rows: list[EpochSamples],
        chosen: tuple[int, str] | None,
        judged: dict[str, Judged],
        suggestion: Suggestion | None,
    ) -> None:
        self.rows, self.judged, self.suggestion = rows, judged, suggestion
        self.query_one("#prompt", Static).update("")
        self.query_one("#epochs", OptionList).add_options([Option(self.label(s), id=s.label) for s in rows])
        if not self.rows:
            self.query_one("#prompt", Static).update("no samples yet: they are rendered at each saved epoch")
            return
        if chosen is not None:
            epoch, source = chosen
            line = f"chosen: epoch {epoch} ({source}) → {self.run.name}-best.safetensors"
        elif suggestion is not None:
            line = f"suggested ◀ {suggestion.why}; b copies the highlighted epoch's adapter"
        else:
            line = "validation loss beside each epoch (★ lowest, ⚠ copies a training image); b copies the highlighted adapter"
        self.query_one("#chosen", Static).update(Text(printable(line)))
        listing = self.query_one("#epochs", OptionList)
        suggested = [i for i, s in enumerate(rows) if s.label in judged and is_suggested(judged[s.label], suggestion)]
        listing.highlighted = suggested[0] if suggested else len(self.rows) - 1
        listing.focus()

    @on(OptionList.OptionHighlighted, "#epochs")
    def show(self, event: OptionList.OptionHighlighted) -> None:
        samples = next(s for s in self.rows if s.label == event.option.id)
        pictures = self.query_one("#pictures", Horizontal)
        pictures.remove_children()
        image_class = image_widget_class()
        pictures.mount_all([image_class(str(path)) for path in samples.images[:3]])
        details = self.details(samples)
        prompts = " | ".join(samples.prompts[:3])
        # Each part escaped on its own: the line break between them is ours, not a prompt's.
        shown = f"{printable(details)}\n{printable(prompts)}" if details else printable(prompts)
        self.query_one("#prompt", Static).update(Text(shown))

    def action_choose(self) -> None:
        listing = self.query_one("#epochs", OptionList)
        if listing.highlighted is None or not self.rows:
            return
        samples = self.rows[listing.highlighted]
        target = f"{self.run.name}-best.safetensors"
        replacing = " (it replaces the current choice)" if (self.run.output / target).exists() else ""
        at = f" (to use at strength {samples.strength:g})" if samples.strength != 1.0 else ""
        self.app.push_screen(
            ConfirmDialog(f"Copy epoch {samples.epoch}'s adapter{at} to output/{target}{replacing}?", yes="Copy"),
            lambda yes: self.choose(samples) if yes else None,
        )

    def choose(self, samples: EpochSamples) -> None:
        try:
            path = choose_best(self.run, samples.epoch, samples.strength)
        except StyloraError as exc:
            self.notify(f"{exc.message}: {exc.hint}", severity="error")
            return
        use = f"<lora:{path.stem}:{samples.strength:g}>"
        self.query_one("#chosen", Static).update(Text(printable(f"chosen: epoch {samples.epoch} → {path.name}; use {use}")))
        self.notify(f"epoch {samples.epoch} copied to {path.name}")
