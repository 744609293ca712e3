"""The headless view: follow a run's events with Rich until it ends (or the user detaches).

The same reducer as the monitor; works without a terminal (plain lines when not a TTY).
Ctrl-C asks the trainer to stop cleanly (it saves a checkpoint); a second Ctrl-C detaches.
"""

from __future__ import annotations

import signal
import sys
import time
from dataclasses import replace

from stylora_tui.display import printable
from stylora_tui.launch.launcher import Launched
from stylora_tui.launch.start import Started
from stylora_tui.rental.meter import money
from stylora_tui.run import control
from stylora_tui.run import events as ev
from stylora_tui.run.layout import RunDir
from stylora_tui.run.state import RunState, format_duration, suggested_line
from stylora_tui.run.status import CACHING, FAILED, FINISHED, SAMPLING, STOPPED, TRAINING, WAITING
from stylora_tui.run.watch import Watch
from stylora_tui.views.console import console, safe
from stylora_tui.views.gpu import gpu_line
from stylora_tui.views.invocation import check_command, command, resume_command, run_args
from stylora_tui.views.rental import await_rental, cost, summarize_rental

POLL_S = 0.5
SAID_ALOUD = (
    ev.OutputSaved,
    ev.CheckpointSaved,
    ev.CheckpointFailed,
    ev.RunFailed,
    ev.RunStopped,
    ev.RunFinished,
    ev.Log,
    ev.StepSkipped,
    ev.EpochJudged,
    ev.AdapterSuggested,
    # The countdown can start in the same poll as the final event, before await_rental's own
    # loop: said here too, or the user never hears that the machine is about to stop.
    ev.RentalCountdown,
    ev.RentalAction,
)


def describe(state: RunState) -> str:
    if state.phase == SAMPLING and state.sample_total:
        return f"rendering samples {state.sample_done}/{state.sample_total} at step {state.step}"
    if state.phase == CACHING and state.cache_total:
        return f"caching latents {state.cache_done}/{state.cache_total}"
    if state.phase == WAITING:
        return "starting: loading the model"
    parts = [f"step {state.step}/{state.total_steps or '?'}", f"epoch {state.epoch}/{state.total_epochs or '?'}"]
    if state.loss is not None:
        parts.append(f"loss {state.loss:.4f} (avg {state.loss_avg:.4f})")
    if state.it_per_s:
        parts.append(f"{state.it_per_s:.2f} it/s")
    parts.append(f"ETA {format_duration(state.eta_s)}")
    found = cost(state.price_per_hour, state.elapsed_s(time.time()), state.eta_s)
    if found is not None:
        parts.append(f"{money(found.so_far)} so far")
    if state.gpu:
        parts.append(gpu_line(state.gpu, state.gpu_error))
    return "  ".join(parts)


def follow_started(started: Started, detach: bool) -> int:
    """What a run just started is, then (unless `detach`) its progress to the end: the exit
    code says how it ended (1: failed, or gone without a word)."""
    prepared, launched = started.prepared, started.launched
    run = prepared.run
    out = console()
    warnings = sorted({f.code for f in prepared.report.findings if f.severity.value == "warning"})
    if warnings:
        out.print(
            f"[yellow]dataset warnings[/]: {', '.join(warnings)} (details: {safe(check_command(prepared.config.dataset.path))})"
        )
    steps = prepared.report.steps
    out.print(
        f"started [bold]{run.name}[/] (pid {launched.pid}): {steps.total_steps} steps, {steps.epochs} epochs, log {safe(launched.log)}"
    )
    if detach:
        out.print(f"training continues without this terminal; watch it with `{safe(resume_command(run))}`")
        return 0
    state = follow(run, launched_at=time.time(), launched=launched)
    return 1 if state.phase == FAILED else 0


def follow(
    run: RunDir,
    *,
    stop_on_interrupt: bool = True,
    session_from: int | None = None,
    launched_at: float | None = None,
    launched: Launched | None = None,
) -> RunState:
    """Follow the run to its end. With `session_from` (the log's end offset when a trainer
    was restarted), earlier sessions are history only: their final event ends nothing.
    `launched_at`: a trainer this process just started counts as alive while it starts;
    `launched`: that trainer, whose exit during start-up is seen at once."""
    out = console()
    exit_code = launched.exit_code if launched is not None else None
    if session_from is not None:
        watch = Watch.session(run, session_from, launched_at or time.time(), exit_code)
    else:
        watch = Watch(run, started_at=launched_at, exit_code=exit_code)
    interrupts = {"count": 0}

    def on_interrupt(_signum, _frame):
        interrupts["count"] += 1
        if watch.ended and not interrupts.get("kept"):
            # The run is over; what is left is the countdown to stopping the machine.
            interrupts["kept"] = 1
            control.request(run, control.KEEP_MACHINE)
            out.print("[yellow]keeping this machine: the countdown is cancelled (Ctrl-C again to leave)[/]")
        elif interrupts["count"] == 1 and stop_on_interrupt:
            control.request(run, control.STOP)
            out.print("[yellow]stop requested: the trainer saves a checkpoint at the next step (Ctrl-C again to detach)[/]")
        else:
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_interrupt)
    interactive = sys.stdout.isatty()
    last_line = 0.0
    try:
        from rich.progress import BarColumn, Progress, TextColumn

        progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[info]}"),
            console=out,
            disable=not interactive,
            transient=False,
        )
        with progress:
            task = progress.add_task(run.name, total=None, info="waiting for the trainer")
            while True:
                new = watch.poll()
                state = watch.state
                for event, line in watch.said:
                    if isinstance(event, SAID_ALOUD):
                        progress.console.print(f"  {printable(line)}", markup=False)
                label, done, total = progress_of(state)
                if total:
                    progress.update(task, total=total, completed=done, info=describe(state) if state.phase == TRAINING else label)
                if not interactive and new and time.time() - last_line > 5:
                    out.print(describe(state), markup=False)
                    last_line = time.time()
                if watch.ended:
                    if interactive:
                        out.bell()  # heard in another window, over SSH too
                    break
                time.sleep(POLL_S)
        await_rental(run, watch, out)
    except KeyboardInterrupt:
        out.print(f"detached: training continues; `{safe(resume_command(run))}` to come back")
    finally:
        signal.signal(signal.SIGINT, previous)
    state = gone_without_a_word(run, watch, out) if watch.gone else watch.state
    summarize(state, run)
    return state


def gone_without_a_word(run: RunDir, watch: Watch, out) -> RunState:
    """The trainer ended without a final event: the end of its own log, and the run as
    failed, saying how (the caller's exit code says so too)."""
    if watch.exit_code is not None and not watch.seen_events:
        how = f"the trainer exited during start-up (exit code {watch.exit_code}) before its first event"
    elif watch.exit_code is not None:
        how = f"the trainer exited (exit code {watch.exit_code}) without a final event"
    else:
        how = "the trainer is gone without a final event"
    tail = log_tail(run, 8)
    if tail:
        out.print(f"the end of {safe(run.trainer_log)}:")
        for line in tail:
            out.print(f"  {printable(line)}", markup=False)
    return replace(
        watch.state,
        phase=FAILED,
        reason=how,
        hint=f"see {run.trainer_log}; `{resume_command(run)}` continues from the newest complete checkpoint",
    )


def log_tail(run: RunDir, lines: int) -> list[str]:
    try:
        with open(run.trainer_log, "rb") as handle:
            handle.seek(max(0, handle.seek(0, 2) - 16384))
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if line.strip()][-lines:]


def progress_of(state: RunState) -> tuple[str, int, int]:
    """What a progress bar shows now, with its own label: caching, sampling and training each
    have their own count (a full cache bar must not read as a finished run)."""
    if state.phase == CACHING and state.cache_total:
        return f"caching latents {state.cache_done}/{state.cache_total}", state.cache_done, state.cache_total
    if state.phase == SAMPLING and state.sample_total:
        return f"samples {state.sample_done}/{state.sample_total}", state.sample_done, state.sample_total
    if state.total_steps:
        return f"step {state.step}/{state.total_steps} {100 * state.step // state.total_steps}%", state.step, state.total_steps
    return WAITING, 0, 0


def summarize(state: RunState, run: RunDir) -> None:
    out = console()
    if state.phase == FINISHED:
        out.print(f"[green]finished[/] {run.name} at step {state.step}; outputs in {safe(run.output)}:")
        for name in run.outputs():
            out.print(f"  {printable(name)}", markup=False)
        if state.suggested is not None:
            out.print(f"[bold green]{safe(suggested_line(state.suggested))}[/]")
            out.print(
                f"  side by side: `{safe(command('compare', *run_args(run), '-o', 'sheet.png'))}`; "
                f"add --best to copy the suggested adapter to output/{safe(run.name)}-best.safetensors"
            )
    elif state.phase == STOPPED:
        out.print(f"[yellow]stopped[/] at step {state.step}; continue with `{safe(resume_command(run))}`")
    elif state.phase == FAILED:
        out.print(f"[red]failed[/]: {safe(state.reason)}")
        if state.hint:
            out.print(f"hint: {safe(state.hint)}")
    summarize_rental(state, run, out)
