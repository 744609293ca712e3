"""Step 1: the base model family and checkpoint."""

from __future__ import annotations

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import (
    Input,
    Label,
    RadioButton,
    RadioSet,
    Select,
    Static,
)

from stylora_tui.config.families import FAMILIES, detect_family
from stylora_tui.errors import StyloraError
from stylora_tui.model.files import check_model_path, resolve_prediction
from stylora_tui.tui.screens.step import WizardStepScreen

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
        yield Label("Checkpoint (.safetensors file, diffusers folder, or demo):")
        yield Input(self.wizard.model_path, placeholder="~/models/animagine-xl-3.1.safetensors", id="model")
        yield Static("", id="model-check", classes="help")
        yield Select(PREDICTION_CHOICES, value=self.wizard.edits.get("model.prediction_type", "auto"), allow_blank=False, id="prediction")

    def on_mount(self) -> None:
        self.query_one("#model", Input).focus()
        self.check_model(self.wizard.model_path)

    def selected_family(self) -> str:
        pressed = self.query_one("#family", RadioSet).pressed_button
        return pressed.name if pressed is not None else self.wizard.family

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
        """Show what is wrong with the path, or the family it looks like; return the problem."""
        view = self.query_one("#model-check", Static)
        value = value.strip()
        if not value:
            view.update("type a path, press ctrl+o to browse, or type demo for the embedded demo model")
            return "choose a checkpoint first"
        try:
            check_model_path(value)
            prediction = resolve_prediction(value, self.chosen_prediction(), "auto")
        except StyloraError as exc:
            view.update(f"[red]{escape(exc.message)}[/]\n{escape(exc.hint)}")
            return exc.message
        guessed = detect_family(value)
        family = self.selected_family()
        if guessed and guessed != family:
            status = f"[yellow]the file name looks like {FAMILIES[guessed].label}, but {FAMILIES[family].label} is selected[/]"
        else:
            status = "[green]ok[/]"
        view.update(f"{status}\npredicts: {escape(prediction.label)}")
        return ""

    def action_browse(self) -> None:
        from stylora_tui.tui.dialogs.browse import FileBrowserDialog

        field = self.query_one("#model", Input)

        def chosen(path: str | None) -> None:
            if path:
                field.value = path
            field.focus()

        self.app.push_screen(FileBrowserDialog("Choose the base model: a .safetensors file, or a diffusers folder (ctrl+d)",
                                               field.value, folders=True, files=True), chosen)

    def keep(self) -> None:
        edits = {k: v for k, v in self.wizard.edits.items() if k != "model.prediction_type"}
        if self.chosen_prediction() != "auto":
            edits["model.prediction_type"] = self.chosen_prediction()
        self.app.update_wizard(family=self.selected_family(), model_path=self.query_one("#model", Input).value.strip(), edits=edits)

    def ready(self) -> str:
        return self.check_model(self.wizard.model_path)
