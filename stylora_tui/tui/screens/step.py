"""What every wizard step shares: its title, Back/Next (buttons and keys), the footer."""

from __future__ import annotations

from dataclasses import replace

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Button, Footer, Static
from textual.worker import Worker, WorkerState

from stylora_tui.config.wizard import STEPS, TITLES, WizardState
from stylora_tui.dataset.doctor import DoctorReport
from stylora_tui.display import printable_lines
from stylora_tui.tui.context import StepContext
from stylora_tui.tui.messages import ReportChanged, StepRequested, WizardChanged


class WizardStepScreen(Screen):
    """A step of the wizard. It is handed the state so far when it opens and keeps its own
    copy; every change it makes goes up to the app as a message (WizardChanged,
    ReportChanged), and so do its requests (StepRequested, MonitorRequested)."""

    STEP = "model"
    BINDINGS = [
        Binding("ctrl+n", "next", "Next"),
        Binding("ctrl+b", "back", "Back"),
        Binding("ctrl+q", "app.quit", "Quit"),
    ]

    def compose(self) -> ComposeResult:
        index = STEPS.index(self.STEP)
        yield Static(f"stylora-tui · step {index + 1}/{len(STEPS)} · {TITLES[self.STEP]}", classes="step-title")
        with VerticalScroll(classes="step-body"):
            yield from self.compose_body()
        yield Static("", id="below", classes="below")
        yield Static("", id="step-error", classes="step-error")
        with Horizontal(classes="step-nav"):
            yield Button("◀ Back (ctrl+b)", id="back", disabled=index == 0)
            yield Button(self.next_label(), id="next", variant="primary")
        yield Footer()

    def compose_body(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        # At 80x24 a step's findings or offers can sit below the fold: say so while they do,
        # re-judged whenever the body scrolls, its content grows or shrinks, or the screen resizes.
        body = self.query_one(".step-body", VerticalScroll)
        self.watch(body, "scroll_y", self.judge_below, init=False)
        self.watch(body, "virtual_size", self.judge_below)

    def on_resize(self) -> None:
        self.judge_below()

    def judge_below(self) -> None:
        # After the refresh: while a step mounts, its sizes pass through values that overflow.
        self.call_after_refresh(self.show_what_is_below)

    def show_what_is_below(self) -> None:
        try:
            body = self.query_one(".step-body", VerticalScroll)
            below = self.query_one("#below", Static)
        except NoMatches:  # the step was left before its refresh came
            return
        hidden = body.max_scroll_y > 0 and body.scroll_y < body.max_scroll_y
        text = f"▼ more below: {self.more_below()} (PgDn, or the mouse wheel)" if hidden else ""
        if str(below.content) != text:
            below.update(text)
        below.display = hidden

    def more_below(self) -> str:
        """What the step has further down, in a few words."""
        return "more of this step"

    def next_label(self) -> str:
        return "Next ▶ (ctrl+n)"

    def __init__(self, context: StepContext) -> None:
        super().__init__()
        self.context = context
        self.wizard: WizardState = context.wizard
        self.report: DoctorReport | None = context.report
        self.services = context.services

    def tokenizers(self) -> tuple:
        return self.context.tokenizers()

    def machine(self):
        return self.context.machine()

    def change_wizard(self, **changes) -> None:
        self.wizard = replace(self.wizard, **changes)
        self.post_message(WizardChanged(self.wizard))

    def set_report(self, report: DoctorReport | None) -> None:
        self.report = report
        self.post_message(ReportChanged(report))

    def show_error(self, message: str) -> None:
        """Plain text (no markup): messages quote the user's paths and values."""
        self.query_one("#step-error", Static).update(Text(printable_lines(message)))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "next":
            event.stop()
            self.action_next()
        elif event.button.id == "back":
            event.stop()
            self.action_back()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A step's workers run with exit_on_error=False: whatever one raises that it did not
        turn into a message itself (a bug, a library's unexpected error) is said on the step,
        which stays, with everything typed kept; the wizard never exits under the user."""
        if event.state is WorkerState.ERROR:
            error = event.worker.error
            self.worker_failed(event.worker.group)
            self.show_error(
                f"{event.worker.name} failed unexpectedly: {type(error).__name__}: {error}".splitlines()[0]
                + " (nothing you typed is lost; try again, and please report this)"
            )

    def worker_failed(self, group: str) -> None:
        """Undo what a worker of `group` showed while busy (progress bars, disabled buttons)."""

    def keep(self) -> None:
        """Store this step's fields in the wizard state (on leaving, either way)."""

    def ready(self) -> str:
        """'' when the step may be left forward, else why not."""
        return ""

    def action_next(self) -> None:
        self.keep()
        problem = self.ready()
        if problem:
            self.show_error(problem)
            return
        index = STEPS.index(self.STEP)
        if index + 1 < len(STEPS):
            self.post_message(StepRequested(STEPS[index + 1]))
        else:
            self.finish()

    def action_back(self) -> None:
        index = STEPS.index(self.STEP)
        if index == 0:
            return
        self.keep()
        self.post_message(StepRequested(STEPS[index - 1]))

    def finish(self) -> None:
        """The last step's forward action."""
