"""The Textual application: the wizard's five steps and the monitor."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from textual.app import App

from stylora_tui.config.wizard import WizardState
from stylora_tui.run.layout import RunDir
from stylora_tui.tui.safe_output import PrintableOnly
from stylora_tui.tui.services import Services


class StyloraApp(App[str]):
    CSS_PATH = "stylora.tcss"
    TITLE = "stylora-tui"
    ENABLE_COMMAND_PALETTE = False

    def __init__(self, services: Services, wizard: WizardState | None = None, monitor: RunDir | None = None) -> None:
        super().__init__()
        self.services = services
        self.wizard = wizard or WizardState()
        self.monitor_run = monitor
        self.report = None
        self._tokenizers = None
        self._machine = None
        self._printable_only = PrintableOnly()

    def get_line_filters(self):
        return [*super().get_line_filters(), self._printable_only]

    def on_mount(self) -> None:
        if self.monitor_run is not None:
            self.open_monitor(self.monitor_run)
        else:
            self.show_step("model")

    def update_wizard(self, **changes) -> None:
        self.wizard = replace(self.wizard, **changes)

    def tokenizers(self):
        """Both CLIP tokenizers, loaded once on first use (call from a worker thread)."""
        if self._tokenizers is None:
            self._tokenizers = self.services.tokenizers(self.wizard.model_path or None)
        return self._tokenizers

    def machine(self):
        """Where a run would train (GPUs by NVML), read once."""
        if self._machine is None:
            self._machine = self.services.machine()
        return self._machine

    def show_step(self, name: str) -> None:
        from stylora_tui.tui.screens.dataset import DatasetScreen
        from stylora_tui.tui.screens.model import ModelScreen
        from stylora_tui.tui.screens.preset import PresetScreen
        from stylora_tui.tui.screens.review import ReviewScreen
        from stylora_tui.tui.screens.trigger import TriggerScreen

        screen = {"model": ModelScreen, "dataset": DatasetScreen, "trigger": TriggerScreen, "preset": PresetScreen, "review": ReviewScreen}[name]()
        if len(self.screen_stack) > 1:
            self.switch_screen(screen)
        else:
            self.push_screen(screen)

    def open_monitor(self, run: RunDir, launched_at: float | None = None) -> None:
        from stylora_tui.tui.screens.monitor import MonitorScreen

        screen = MonitorScreen(run, launched_at)
        if len(self.screen_stack) > 1:
            self.switch_screen(screen)
        else:
            self.push_screen(screen)


def default_services(runs_root: Path) -> Services:
    return Services(runs_root=runs_root)
