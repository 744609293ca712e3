"""Step 4: choose a preset and edit its fields, validated as you type."""

from __future__ import annotations

from dataclasses import fields

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Select, Static

from stylora_tui.config import toml_compat as tomllib
from stylora_tui.config.presets import list_presets, preset_for, save_user_preset
from stylora_tui.config.schema import SECTION_HELP, SECTIONS, Config
from stylora_tui.display import printable
from stylora_tui.errors import ConfigError, StyloraError
from stylora_tui.tui.screens.step import WizardStepScreen
from stylora_tui.tui.widgets.field import Field

# Chosen in earlier steps, not here.
EARLIER = {"model.path", "model.family", "dataset.path", "captions.trigger"}
EDITABLE_SECTIONS = [s for s in SECTIONS if s != "model"]


def shown(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(f'"{v}"' if isinstance(v, str) else str(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {v!r}" for k, v in value.items()) + "}"
    if value is None:
        return ""
    return f"{value:g}" if isinstance(value, float) else str(value)


def parsed(text: str, current):
    """Read what the user typed the way TOML would; plain words stay strings."""
    if isinstance(current, str):
        return text
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


class PresetScreen(WizardStepScreen):
    STEP = "preset"

    def compose_body(self) -> ComposeResult:
        presets = [(f"{p.name} ({p.source})", p.name) for p in list_presets()]
        with Horizontal(classes="row"):
            yield Select(presets, value=self.wizard.preset_name, allow_blank=False, id="preset")
            yield Select(
                [(f"[{s}] {SECTION_HELP[s]}", s) for s in EDITABLE_SECTIONS], value="network", allow_blank=False, id="section"
            )
        yield Static("", id="preset-help", classes="help")
        # Saving sits above the (long) field list so it is on screen at 80x24.
        with Horizontal(classes="row"):
            yield Field(placeholder="save these settings as a preset named...", id="save-name")
            yield Button("Save preset", id="save")
        yield Static("", id="changed", classes="help")
        yield Vertical(id="fields")

    def on_mount(self) -> None:
        self.field_keys: dict[str, str] = {}  # a field's id -> the config key it edits
        self.show_section("network")

    def preset_config(self) -> Config:
        return preset_for(self.wizard.family, self.wizard.preset_name)

    def current(self) -> Config | None:
        try:
            return self.wizard.config()
        except StyloraError:
            return None

    @on(Select.Changed, "#preset")
    def preset_changed(self, event: Select.Changed) -> None:
        self.change_wizard(preset=str(event.value))
        description = next((p.description for p in list_presets() if p.name == event.value), "")
        self.query_one("#preset-help", Static).update(Text(printable(description)))
        self.show_section(str(self.query_one("#section", Select).value))

    @on(Select.Changed, "#section")
    def section_changed(self, event: Select.Changed) -> None:
        self.show_section(str(event.value))

    def show_section(self, section: str) -> None:
        container = self.query_one("#fields", Vertical)
        container.remove_children()
        config = self.current() or self.preset_config()
        rows: list[Widget] = []
        for spec in fields(SECTIONS[section]):
            key = f"{section}.{spec.name}"
            if key in EARLIER:
                continue
            value = config.get(key)
            field_input = Field(shown(value), id=f"f-{section}-{spec.name}", classes="field-input")
            self.field_keys[field_input.id or ""] = key
            rows.append(Horizontal(Label(spec.name, classes="field-label"), field_input, classes="field-row"))
            rows.append(Static(spec.metadata["help"], classes="field-help"))
        container.mount_all(rows)
        self.show_changes()

    @on(Input.Changed, ".field-input")
    def field_changed(self, event: Input.Changed) -> None:
        key = self.field_keys[event.input.id or ""]
        base = self.preset_config().get(key)
        value = parsed(event.value.strip(), base)
        edits = dict(self.wizard.edits)
        if shown(value) == shown(base):
            edits.pop(key, None)
        else:
            edits[key] = value
        problem = self.validate(edits, key)
        event.input.set_class(bool(problem), "-invalid")
        if problem:
            self.show_error(f"{key}: {problem}")
            return
        self.show_error("")
        self.change_wizard(edits=edits)
        self.show_changes()

    def validate(self, edits: dict, key: str) -> str:
        from dataclasses import replace

        try:
            replace(self.wizard, edits=edits).config()
        except ConfigError as exc:
            mine = [p for p in exc.problems if p.path == key]
            chosen = (mine or list(exc.problems))[0]
            return f"{chosen.message} ({chosen.hint})"
        except StyloraError as exc:
            return exc.message
        return ""

    def show_changes(self) -> None:
        base = self.preset_config()
        lines = [f"{k}: {shown(base.get(k))} → {shown(v)}" for k, v in sorted(self.wizard.edits.items())]
        text = f"changed from {self.wizard.preset_name}: " + ("; ".join(lines) if lines else "nothing")
        self.query_one("#changed", Static).update(Text(printable(text)))

    @on(Input.Submitted, "#save-name")
    @on(Button.Pressed, "#save")
    def save(self, event) -> None:
        event.stop()
        name = self.query_one("#save-name", Input).value.strip()
        try:
            path = save_user_preset(name, self.wizard.preset_name, dict(self.wizard.edits))
        except StyloraError as exc:
            self.show_error(f"{exc.message} ({exc.hint})")
            return
        self.change_wizard(preset=name, edits={})
        self.notify(f"saved {path}")
        self.show_error("")

    def more_below(self) -> str:
        return "more settings of this section"

    def ready(self) -> str:
        if self.query(".-invalid"):
            return "fix the fields marked in red first"
        try:
            self.wizard.config()
        except StyloraError as exc:
            return exc.message
        return ""
