"""The live monitor: progress, loss, GPU, outputs, log; stop / save / sample / detach.

A worker thread tails the run's events (through the injected run source), reduces them
to frozen RunState snapshots and posts them at most a few times a second, so an SSH link
never carries a redraw of numbers that did not change.
"""

from __future__ import annotations

import time

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, ProgressBar, Sparkline, Static
from textual.worker import get_current_worker

from stylora_tui.launch.queue import keep_machine, machine_at_stake
from stylora_tui.run import control
from stylora_tui.run.layout import RunDir
from stylora_tui.run.state import RunState, format_duration, suggested_line
from stylora_tui.run.status import FAILED, FINISHED, RESUMABLE, WAITING
from stylora_tui.run.summary import run_status
from stylora_tui.run.watch import Watch
from stylora_tui.tui.dialogs.confirm import ConfirmDialog
from stylora_tui.tui.messages import RunStateChanged
from stylora_tui.tui.services import Services
from stylora_tui.tui.widgets.gpu_panel import GpuPanel
from stylora_tui.views.console import safe
from stylora_tui.views.headless import progress_of
from stylora_tui.views.invocation import resume_command
from stylora_tui.views.rental import cost, mirror_line

POLL_S = 0.2


POST_EVERY_S = 0.25


class MonitorScreen(Screen):
    BINDINGS = [
        Binding("s", "stop", "Stop"),
        Binding("v", "save_now", "Save now"),
        Binding("p", "sample_now", "Samples"),
        Binding("r", "resume", "Resume"),
        Binding("e", "epochs", "Epochs"),
        Binding("k", "keep_machine", "Keep machine"),
        Binding("q", "detach", "Quit monitor"),
    ]
    LIVE_ONLY = {"stop", "save_now", "sample_now"}

    def __init__(self, run: RunDir, services: Services, launched_at: float | None = None) -> None:
        super().__init__()
        self.run = run
        self.services = services
        # A run this app just launched counts as alive while its process starts up.
        self.launched_at = launched_at
        self.state = RunState(name=run.name)
        self.alive = True
        self.offered_resume = False
        self.seen_live = False  # rings the bell only for an end seen happening, not for an old run opened
        # Whether `k` has anything to keep (the config stops or gives back the machine at the end).
        self.machine_at_stake = machine_at_stake(run)

    def compose(self) -> ComposeResult:
        yield Static(f"stylora-tui · monitor · {self.run.name}", classes="step-title", id="title")
        with Horizontal(id="progress-row"):
            yield Static("", id="progress-label")
            yield ProgressBar(id="progress", show_eta=False, show_percentage=False)
        yield Static("waiting for the trainer...", id="stats")
        with Horizontal(id="loss-row"):
            yield Sparkline([], id="loss")
        yield Static("", id="loss-info")
        yield GpuPanel(id="gpu")
        yield Static("", id="outputs")
        yield Static("", id="log", classes="log")
        yield Footer()

    def on_mount(self) -> None:
        self.follow()
        # The clock keeps running between events (samples, caching): redraw it each second.
        self.set_interval(1.0, self.tick)

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        """Stop, save and sample need a live trainer; resume needs one that is gone."""
        if action in self.LIVE_ONLY:
            return self.alive and not self.state.finished
        if action == "resume":
            return not self.alive
        if action == "keep_machine":
            # While a countdown to stopping the machine runs, or before one can start.
            return self.state.countdown is not None or (self.alive and not self.state.finished and self.machine_at_stake)
        return True

    def tick(self) -> None:
        self.query_one("#stats", Static).update(self.stats_text(self.state))

    @work(thread=True, exclusive=True, group="follow")
    def follow(self) -> None:
        worker = get_current_worker()
        services = self.services
        watch = Watch(self.run, services.run_source(self.run), lambda: services.alive(self.run), started_at=self.launched_at)
        posted_state, posted_alive, last_post = None, None, 0.0
        while not worker.is_cancelled:
            watch.poll()
            now = time.monotonic()
            changed = watch.state is not posted_state or watch.alive != posted_alive
            if changed and now - last_post >= POST_EVERY_S:
                self.post_message(RunStateChanged(watch.state, watch.alive))
                posted_state, posted_alive, last_post = watch.state, watch.alive, now
            time.sleep(POLL_S)

    @on(RunStateChanged)
    def state_changed(self, message: RunStateChanged) -> None:
        was_alive = self.alive
        self.state, self.alive = message.state, message.trainer_alive
        state = message.state
        if self.seen_live and (state.finished or not self.alive):
            # Finished, failed, stopped or gone: the terminal's bell (an SSH client's too)
            # tells a user in another window.
            self.app.bell()
            self.seen_live = False
        elif self.alive and not state.finished and state.phase != WAITING:
            self.seen_live = True
        if was_alive != self.alive:
            self.refresh_bindings()
        label, done, total = progress_of(state)
        self.query_one("#progress-label", Static).update(label)
        bar = self.query_one("#progress", ProgressBar)
        if total:
            bar.update(total=total, progress=done)
        self.query_one("#stats", Static).update(self.stats_text(state))
        losses = [loss for _, loss in state.losses[-120:]]
        self.query_one("#loss", Sparkline).data = losses
        if state.loss is not None:
            lr = f" · lr {state.lr:.2e}" if state.lr is not None else ""
            skipped = f" · {state.skipped_steps} skipped" if state.skipped_steps else ""
            validation = f" · val {state.validation[-1][1]:.4f} (e{state.validation[-1][0]})" if state.validation else ""
            average = f" · avg {state.loss_avg:.4f}" if state.loss_avg is not None else ""
            self.query_one("#loss-info", Static).update(f"loss {state.loss:.4f}{average}{lr}{validation}{skipped}")
        self.query_one("#gpu", GpuPanel).show(state.gpu, state.gpu_error)
        latest = safe(state.outputs[-1]) if state.outputs else "none yet"
        checkpoint = safe(state.checkpoints[-1]) if state.checkpoints else "none yet"
        outputs = f"latest output: {latest}\nlatest checkpoint: {checkpoint}"
        if state.suggested is not None:
            outputs += f"\n[$success]{safe(suggested_line(state.suggested))}[/] (e: epochs)"
        if state.mirror_to:
            line = safe(mirror_line(state.mirror_to, state.mirror_ok_ts, state.mirror_error))
            outputs += f"\n[bold $error]{line}[/]" if state.mirror_error else f"\n{line}"
        if state.countdown is not None and state.rental is None:
            c = state.countdown
            left = max(0, round(c.seconds - (self.services.clock() - (c.ts or self.services.clock()))))
            outputs += f"\n[bold $warning]{c.action} {safe(c.provider)} in {left} s: k keeps the machine[/]"
        if state.checkpoint_error:
            outputs += f"\n[bold $error]{safe(state.checkpoint_error)}[/]"
        self.query_one("#outputs", Static).update(outputs)
        tail = [safe(line) for line in state.log[-5:]]
        if state.reason and state.phase == FAILED:
            tail.append(f"[$error]failed: {safe(state.reason)}[/]" + (f"\nhint: {safe(state.hint)}" if state.hint else ""))
        self.query_one("#log", Static).update("\n".join(tail))
        self.maybe_offer_resume()

    def stats_text(self, state: RunState) -> str:
        phase = state.phase
        if not self.alive and not state.finished and phase != WAITING:
            phase = "crashed (the trainer is gone)"
        rate = f"{state.it_per_s:.2f} it/s" if state.it_per_s else "-- it/s"
        # Wall-clock: sampling, caching and saves are work, and the clock goes on through them.
        elapsed = state.elapsed_s(self.services.clock() if self.alive and not state.finished else None)
        detach = " · q quits the monitor, training continues" if self.alive and not state.finished else ""
        found = cost(state.price_per_hour, elapsed, state.eta_s)
        meter = f" · {found.line()}" if found is not None else ""
        return (
            f"[bold]{phase}[/] · step {state.step}/{state.total_steps or '?'} · epoch {state.epoch}/{state.total_epochs or '?'}\n"
            f"{rate} · elapsed {format_duration(elapsed)} · ETA {format_duration(state.eta_s)}{meter}{detach}"
        )

    def maybe_offer_resume(self) -> None:
        if self.offered_resume or self.alive:
            return
        status = run_status(self.run)
        if status.status in RESUMABLE:
            self.offered_resume = True
            self.app.push_screen(
                ConfirmDialog(
                    f"{self.run.name} is {status.status} at step {status.step}.\nResume from its last complete checkpoint?",
                    yes="Resume",
                    no="Not now",
                ),
                self.resume_answered,
            )

    def resume_answered(self, yes: bool | None) -> None:
        if yes:
            self.restart()

    def action_resume(self) -> None:
        if self.alive:
            self.notify("the run is training already")
            return
        status = run_status(self.run)
        if status.status == FINISHED:
            self.notify("the run has finished")
            return
        where = f"step {status.checkpoint_step}" if status.checkpoint_step is not None else "the start (no checkpoint yet)"
        self.app.push_screen(
            ConfirmDialog(f"Resume {self.run.name} from {where}?", yes="Resume", no="Not now"), self.resume_answered
        )

    @work(thread=True, exclusive=True, group="restart")
    def restart(self) -> None:
        from stylora_tui.errors import StyloraError
        from stylora_tui.launch.resume import restart

        try:
            restart(self.run, self.services.launcher)
        except StyloraError as exc:
            self.app.call_from_thread(self.notify, safe(f"{exc.message}: {exc.hint}"), severity="error", timeout=15)
            return
        self.app.call_from_thread(self.notify, f"resuming {self.run.name}")

    def action_stop(self) -> None:
        if not self.alive:
            self.notify("the run is not training")
            return
        self.app.push_screen(
            ConfirmDialog(
                f"Stop {self.run.name}?\nThe trainer saves a checkpoint first; resume later with {escape(resume_command(self.run))}",
                yes="Stop",
            ),
            self.stop_answered,
        )

    def stop_answered(self, yes: bool | None) -> None:
        if yes:
            control.request(self.run, control.STOP)
            self.notify("stop requested: saving a checkpoint at the next step")

    def action_save_now(self) -> None:
        if self.alive:
            control.request(self.run, control.SAVE_NOW)
            self.notify("save requested: an adapter and a checkpoint at the next step")

    def action_sample_now(self) -> None:
        if self.alive:
            control.request(self.run, control.SAMPLE_NOW)
            self.notify("sample requested")

    def action_keep_machine(self) -> None:
        self.notify(keep_machine(self.run))

    def action_epochs(self) -> None:
        from stylora_tui.tui.screens.epochs import EpochsScreen

        self.app.push_screen(EpochsScreen(self.run))

    def action_detach(self) -> None:
        if self.alive and not self.state.finished:
            # The command on a line of its own: it stays whole (no wrap) and copy-pasteable.
            self.app.exit(f"training continues; come back to it with:\n  {resume_command(self.run)}")
        else:
            self.app.exit(f"{self.run.name}: {run_status(self.run).status}")
