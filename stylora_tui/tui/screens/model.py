"""Step 1: the base model family and checkpoint."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import (
    Button,
    Input,
    Label,
    ProgressBar,
    RadioButton,
    RadioSet,
    Select,
    Static,
)

from stylora_tui.config.families import FAMILIES, detect_family
from stylora_tui.errors import StyloraError
from stylora_tui.integrations import hub
from stylora_tui.model.files import check_model_path, resolve_prediction
from stylora_tui.tui.messages import ScanProgressed
from stylora_tui.tui.screens.step import WizardStepScreen
from stylora_tui.tui.widgets.field import Field

PREDICTION_CHOICES = [
    ("prediction: auto (read from the model)", "auto"),
    ("prediction: epsilon (most SDXL models)", "epsilon"),
    ("prediction: v-prediction (NoobAI V-Pred and its fine-tunes)", "v_prediction"),
]


class ModelScreen(WizardStepScreen):
    STEP = "model"
    BINDINGS = [*WizardStepScreen.BINDINGS, Binding("ctrl+o", "browse", "Browse files")]

    def compose_body(self) -> ComposeResult:
        yield Label("Which family will you generate with?")
        with RadioSet(id="family"):
            for family in FAMILIES.values():
                yield RadioButton(family.label, value=family.name == self.wizard.family, name=family.name)
        yield Static(FAMILIES[self.wizard.family].summary, id="family-help", classes="help")
        yield Label("Checkpoint: .safetensors file, diffusers folder, hub id (org/repo) or demo")
        yield Field(self.wizard.model_path, placeholder="~/models/animagine-xl-3.1.safetensors", id="model")
        yield Static("", id="model-check", classes="help")
        yield ProgressBar(id="download", show_eta=True)
        yield Select(
            PREDICTION_CHOICES, value=self.wizard.edits.get("model.prediction_type", "auto"), allow_blank=False, id="prediction"
        )

    def on_mount(self) -> None:
        self.downloading = False
        self.query_one("#download").display = False
        self.query_one("#model", Input).focus()
        self.check_model(self.wizard.model_path)

    def selected_family(self) -> str:
        pressed = self.query_one("#family", RadioSet).pressed_button
        return pressed.name if pressed is not None and pressed.name else self.wizard.family

    @on(RadioSet.Changed, "#family")
    def family_changed(self) -> None:
        self.query_one("#family-help", Static).update(FAMILIES[self.selected_family()].summary)
        self.check_model(self.query_one("#model", Input).value)

    @on(Input.Changed, "#model")
    def model_changed(self, event: Input.Changed) -> None:
        self.check_model(event.value)

    @on(Select.Changed, "#prediction")
    def prediction_changed(self) -> None:
        self.check_model(self.query_one("#model", Input).value)

    def chosen_prediction(self) -> str:
        return str(self.query_one("#prediction", Select).value)

    def check_model(self, value: str) -> str:
        """Show what is wrong with the model, or the family it looks like; return the problem."""
        view = self.query_one("#model-check", Static)
        value = value.strip()
        if not value:
            view.update(
                "type a path (ctrl+o browses), a hub id, a known base ("
                f"{', '.join(hub.KNOWN_BASES)}) or demo for the embedded demo model"
            )
            return "choose a checkpoint first"
        try:
            ref = hub.parse(value) if value != "demo" else None
            local = hub.cached(ref) if ref is not None else value
            if ref is not None and local is None:
                view.update(
                    f"{self.family_status(ref.family or detect_family(ref.file or ref.prefer or ref.repo))}\n"
                    f"{escape(ref.repo)} from the hub: Next downloads it (resumable) into the hub cache"
                )
                return ""
            check_model_path(str(local))
            prediction = resolve_prediction(str(local), self.chosen_prediction(), "auto")
        except StyloraError as exc:
            view.update(f"[$error]{escape(exc.message)}[/]\n{escape(exc.hint)}")
            return exc.message
        guessed = ref.family if ref is not None and ref.family else detect_family(value)
        where = f"\ndownloaded: {escape(str(local))}" if ref is not None else ""
        view.update(f"{self.family_status(guessed)}\npredicts: {escape(prediction.label)}{where}")
        return ""

    def family_status(self, guessed: str | None) -> str:
        family = self.selected_family()
        if guessed and guessed != family:
            return f"[$warning]the name looks like {FAMILIES[guessed].label}, but {FAMILIES[family].label} is selected[/]"
        return "[$success]ok[/]"

    def action_back(self) -> None:
        if not self.still_downloading():
            super().action_back()

    def still_downloading(self) -> bool:
        if self.downloading:
            self.show_error("the model is still downloading: wait for it, or quit (ctrl+q) and resume it later")
        return self.downloading

    def action_next(self) -> None:
        """A hub model not yet here is downloaded first; the step then goes on with its path."""
        if self.still_downloading():
            return
        self.keep()
        try:
            ref = hub.parse(self.wizard.model_path) if self.wizard.model_path not in ("", "demo") else None
        except StyloraError:
            ref = None  # ready() shows why
        if ref is None:
            super().action_next()
            return
        self.downloading = True
        self.query_one("#next", Button).disabled = True
        self.query_one("#model-check", Static).update(f"downloading {escape(ref.repo)} (interrupted downloads resume)...")
        bar = self.query_one("#download", ProgressBar)
        bar.display = True
        bar.update(total=None, progress=0)
        self.download(ref)

    @work(thread=True, exclusive=True, group="download", exit_on_error=False)
    def download(self, ref) -> None:
        from textual.worker import get_current_worker

        worker = get_current_worker()

        def show(_what: str, done: int, total: int) -> None:
            if worker.is_cancelled:  # the wizard is closing: stop; the partial file is kept for resuming
                raise KeyboardInterrupt
            self.post_message(ScanProgressed(done, total))

        try:
            path = self.services.fetch(ref, show)
        except StyloraError as exc:
            self.app.call_from_thread(self.downloaded, None, f"{exc.message} ({exc.hint})")
            return
        except KeyboardInterrupt:
            return
        self.app.call_from_thread(self.downloaded, path, "")

    @on(ScanProgressed)
    def progressed(self, message: ScanProgressed) -> None:
        self.query_one("#download", ProgressBar).update(total=message.total or None, progress=message.done)

    def worker_failed(self, group: str) -> None:
        if group == "download":
            self.download_ended()

    def download_ended(self) -> None:
        self.downloading = False
        self.query_one("#download").display = False
        self.query_one("#next", Button).disabled = False

    def downloaded(self, path: Path | None, error: str) -> None:
        self.download_ended()
        model = self.query_one("#model", Input)
        if path is None:
            self.check_model(model.value)
            self.show_error(error)
            return
        model.value = str(path)
        self.check_model(model.value)
        self.action_next()

    def action_browse(self) -> None:
        from stylora_tui.tui.dialogs.browse import FileBrowserDialog

        field = self.query_one("#model", Input)

        def chosen(path: str | None) -> None:
            if path:
                field.value = path
            field.focus()

        self.app.push_screen(
            FileBrowserDialog(
                "Choose the base model: a .safetensors file, or a diffusers folder (ctrl+d)",
                field.value,
                folders=True,
                files=True,
            ),
            chosen,
        )

    def keep(self) -> None:
        edits = {k: v for k, v in self.wizard.edits.items() if k != "model.prediction_type"}
        if self.chosen_prediction() != "auto":
            edits["model.prediction_type"] = self.chosen_prediction()
        self.change_wizard(family=self.selected_family(), model_path=self.query_one("#model", Input).value.strip(), edits=edits)

    def ready(self) -> str:
        return self.check_model(self.wizard.model_path)
