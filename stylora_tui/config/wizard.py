"""The wizard's state: what the user chose so far. Pure data; the TUI only renders it.

Going back never loses anything: each step replaces its own fields and keeps the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stylora_tui.config.presets import FAMILY_PRESETS, preset_for
from stylora_tui.config.schema import Config

# The wizard's steps in order, with the title each shows: the one list the TUI reads.
STEPS = ("model", "dataset", "trigger", "preset", "review")
TITLES = {
    "model": "Base model",
    "dataset": "Dataset",
    "trigger": "Trigger word",
    "preset": "Preset",
    "review": "Review and launch",
}


@dataclass(frozen=True)
class WizardState:
    family: str = "animagine"
    model_path: str = ""
    dataset_path: str = ""
    trigger: str = ""
    preset: str = ""  # "" = the family's style preset
    edits: dict[str, Any] = field(default_factory=dict)  # dotted key -> value, over the preset
    run_name: str = ""

    @property
    def preset_name(self) -> str:
        return self.preset or FAMILY_PRESETS[self.family]

    def layers(self) -> dict:
        """The user's choices as a config layer over the preset."""
        layer: dict[str, dict] = {"model": {"family": self.family}}
        for dotted, value in self.edits.items():
            section, key = dotted.split(".", 1)
            layer.setdefault(section, {})[key] = value
        if self.model_path:
            layer["model"]["path"] = self.model_path
        if self.dataset_path:
            layer.setdefault("dataset", {})["path"] = self.dataset_path
        if self.trigger:
            layer.setdefault("captions", {})["trigger"] = self.trigger
        return layer

    def config(self) -> Config:
        return preset_for(self.family, self.preset_name, self.layers())


def demo_state() -> WizardState:
    from stylora_tui import paths

    return WizardState(
        family="animagine",
        model_path="demo",
        dataset_path=str(paths.examples_dir() / "demo-style"),
        trigger="stylorademostyle",
        preset="demo",
    )
