"""Epochs side by side: samples in the terminal, validation loss, and the chosen epoch.

Images use textual-image: the kitty graphics protocol or sixel where the terminal has
them, half-block characters otherwise; STYLORA_IMAGES=auto|kitty|sixel|halfcell|unicode
overrides the detection (some SSH setups and multiplexers hide what the terminal can do).
"""

from __future__ import annotations

import os

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from stylora_tui.choose.samples import EpochSamples, choose_best, chosen_epoch, epoch_samples
from stylora_tui.display import printable
from stylora_tui.errors import StyloraError
from stylora_tui.run.layout import RunDir
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
    EpochsScreen #epochs { width: 24; }
    EpochsScreen #pictures { height: 1fr; }
    EpochsScreen #pictures > * { width: 1fr; height: 1fr; }
    """

    def __init__(self, run: RunDir) -> None:
        super().__init__()
        self.run = run
        self.rows: list[EpochSamples] = []

    def compose(self) -> ComposeResult:
        yield Static(f"stylora-tui · epochs · {self.run.name}", classes="step-title")
        with Horizontal():
            yield OptionList(id="epochs")
            with Vertical():
                yield Static("", id="prompt", classes="help")
                yield Horizontal(id="pictures")
        yield Static("", id="chosen", classes="help")
        yield Footer()

    def label(self, samples) -> str:
        name = f"epoch {samples.epoch}" if samples.label.startswith("e") else f"step {samples.step}"
        if samples.validation_loss is not None:
            best = min(r.validation_loss for r in self.rows if r.validation_loss is not None)
            name += f"  {samples.validation_loss:.4f}" + (" ★" if samples.validation_loss == best else "")
        return name

    def on_mount(self) -> None:
        self.query_one("#prompt", Static).update("reading the run's samples and validation losses...")
        self.load()

    @work(thread=True, exclusive=True, group="epochs")
    def load(self) -> None:
        # The validation losses come from the whole event log (megabytes on a long run).
        rows = [s for s in epoch_samples(self.run) if s.images]
        self.app.call_from_thread(self.loaded, rows, chosen_epoch(self.run))

    def loaded(self, rows: list[EpochSamples], chosen: tuple[int, str] | None) -> None:
        self.rows = rows
        self.query_one("#prompt", Static).update("")
        self.query_one("#epochs", OptionList).add_options([Option(self.label(s), id=s.label) for s in rows])
        if not self.rows:
            self.query_one("#prompt", Static).update("no samples yet: they are rendered at each saved epoch")
            return
        if chosen is not None:
            epoch, source = chosen
            self.query_one("#chosen", Static).update(f"chosen: epoch {epoch} ({source}) → {self.run.name}-best.safetensors")
        else:
            self.query_one("#chosen", Static).update(
                "validation loss beside each epoch (★ lowest); b copies the highlighted epoch's adapter"
            )
        listing = self.query_one("#epochs", OptionList)
        listing.highlighted = len(self.rows) - 1
        listing.focus()

    @on(OptionList.OptionHighlighted, "#epochs")
    def show(self, event: OptionList.OptionHighlighted) -> None:
        samples = next(s for s in self.rows if s.label == event.option.id)
        pictures = self.query_one("#pictures", Horizontal)
        pictures.remove_children()
        image_class = image_widget_class()
        pictures.mount_all([image_class(str(path)) for path in samples.images[:3]])
        self.query_one("#prompt", Static).update(Text(printable(" | ".join(samples.prompts[:3]))))

    def action_choose(self) -> None:
        listing = self.query_one("#epochs", OptionList)
        if listing.highlighted is None or not self.rows:
            return
        samples = self.rows[listing.highlighted]
        target = f"{self.run.name}-best.safetensors"
        replacing = " (it replaces the current choice)" if (self.run.output / target).exists() else ""
        self.app.push_screen(
            ConfirmDialog(f"Copy epoch {samples.epoch}'s adapter to output/{target}{replacing}?", yes="Copy"),
            lambda yes: self.choose(samples) if yes else None,
        )

    def choose(self, samples) -> None:
        try:
            path = choose_best(self.run, samples.epoch)
        except StyloraError as exc:
            self.notify(f"{exc.message}: {exc.hint}", severity="error")
            return
        self.query_one("#chosen", Static).update(f"chosen: epoch {samples.epoch} → {path.name}")
        self.notify(f"epoch {samples.epoch} copied to {path.name}")
