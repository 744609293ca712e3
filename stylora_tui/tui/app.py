"""The Textual application: the wizard's five steps and the monitor."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from textual.app import App

from stylora_tui.config.wizard import WizardState
from stylora_tui.dataset.doctor import DoctorReport
from stylora_tui.run.layout import RunDir
from stylora_tui.tui.context import StepContext
from stylora_tui.tui.messages import MonitorRequested, ReportChanged, StepRequested, WizardChanged
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
        self.report: DoctorReport | None = None
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
        from stylora_tui.tui.steps import STEP_SCREENS

        context = StepContext(self.wizard, self.report, self.services, self.tokenizers, self.machine)
        self._show(STEP_SCREENS[name](context))

    def open_monitor(self, run: RunDir, launched_at: float | None = None) -> None:
        from stylora_tui.tui.screens.monitor import MonitorScreen

        self._show(MonitorScreen(run, self.services, launched_at))

    def _show(self, screen) -> None:
        if len(self.screen_stack) > 1:
            self.switch_screen(screen)
        else:
            self.push_screen(screen)

    # What the screens say, and ask for.

    def on_wizard_changed(self, message: WizardChanged) -> None:
        self.wizard = message.wizard

    def on_report_changed(self, message: ReportChanged) -> None:
        self.report = message.report

    def on_step_requested(self, message: StepRequested) -> None:
        self.show_step(message.step)

    def on_monitor_requested(self, message: MonitorRequested) -> None:
        self.open_monitor(message.run, message.launched_at)


def default_services(runs_root: Path) -> Services:
    return Services(runs_root=runs_root)
