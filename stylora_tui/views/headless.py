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
from stylora_tui.run import control
from stylora_tui.run.events import EventTailer
from stylora_tui.run.invocation import resume_command
from stylora_tui.run.layout import RunDir
from stylora_tui.run.state import RunState, format_duration, reduce, replay
from stylora_tui.run.status import RUNNING
from stylora_tui.run.summary import run_status
from stylora_tui.views.console import console, safe

POLL_S = 0.5
START_GRACE_S = 60.0


def describe(state: RunState) -> str:
    if state.phase == "sampling" and state.sample_total:
        return f"rendering samples {state.sample_done}/{state.sample_total} at step {state.step}"
    parts = [f"step {state.step}/{state.total_steps or '?'}", f"epoch {state.epoch}/{state.total_epochs or '?'}"]
    if state.loss is not None:
        parts.append(f"loss {state.loss:.4f} (avg {state.loss_avg:.4f})")
    if state.it_per_s:
        parts.append(f"{state.it_per_s:.2f} it/s")
    parts.append(f"ETA {format_duration(state.eta_s)}")
    if state.gpu:
        used, total = state.gpu.get("memory_used_mib"), state.gpu.get("memory_total_mib")
        if used and total:
            parts.append(f"GPU {state.gpu.get('utilization_pct', '?')}% {used / 1024:.1f}/{total / 1024:.1f} GiB")
    return "  ".join(parts)


def follow(run: RunDir, *, stop_on_interrupt: bool = True, session_from: int | None = None) -> RunState:
    """Follow the run to its end. With `session_from` (the log's end offset when a trainer
    was restarted), earlier sessions are history only: their final event ends nothing."""
    out = console()
    tailer = EventTailer(run.events)
    state = RunState(name=run.name)
    if session_from is not None:
        while tailer.offset < session_from:
            batch = tailer.read_new(max_bytes=session_from - tailer.offset)
            if not batch:
                break
            state = replay(batch, state)
        tailer.offset = session_from
        state = replace(state, phase="waiting")
    launched = time.time()
    seen_new = False
    interrupts = {"count": 0}

    def on_interrupt(_signum, _frame):
        interrupts["count"] += 1
        if interrupts["count"] == 1 and stop_on_interrupt:
            control.request(run, control.STOP)
            out.print("[yellow]stop requested: the trainer saves a checkpoint at the next step (Ctrl-C again to detach)[/]")
        else:
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_interrupt)
    interactive = sys.stdout.isatty()
    last_line = 0.0
    quiet_since = time.time()
    try:
        from rich.progress import BarColumn, Progress, TextColumn

        progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
                            console=out, disable=not interactive, transient=False)
        with progress:
            task = progress.add_task(run.name, total=None, info="waiting for the trainer")
            while True:
                new = tailer.read_new()
                for event in new:
                    state = reduce(state, event)
                    if event["type"] in ("output.saved", "checkpoint.saved", "run.failed", "run.stopped", "run.finished", "log", "train.skipped"):
                        progress.console.print(f"  {printable(state.log[-1] if state.log else event.get('type'))}", markup=False)
                if new:
                    quiet_since = time.time()
                    seen_new = True
                if state.phase == "caching" and state.cache_total:
                    progress.update(task, total=state.cache_total, completed=state.cache_done, info=f"caching latents {state.cache_done}/{state.cache_total}")
                elif state.phase == "sampling" and state.sample_total:
                    # Samples take a while on a slow machine: progress, not a frozen line.
                    progress.update(task, total=state.sample_total, completed=state.sample_done,
                                    info=f"rendering samples {state.sample_done}/{state.sample_total} (step {state.step})")
                elif state.total_steps:
                    progress.update(task, total=state.total_steps, completed=state.step, info=describe(state))
                if not interactive and new and time.time() - last_line > 5:
                    out.print(describe(state), markup=False)
                    last_line = time.time()
                if state.finished:
                    break
                # A trainer that died without a final event (kill -9, OOM killer); a restarted
                # one may take a moment to start and take its lock.
                starting = session_from is not None and not seen_new and time.time() - launched < START_GRACE_S
                if not starting and time.time() - quiet_since > 3 and run_status(run).status != RUNNING:
                    tailer_rest = tailer.read_all_new()
                    for event in tailer_rest:
                        state = reduce(state, event)
                    if not state.finished:
                        out.print(f"[bold red]the trainer is gone without a final event[/]; see {safe(run.trainer_log)}")
                        break
                    break
                time.sleep(POLL_S)
    except KeyboardInterrupt:
        out.print(f"detached: training continues; `{safe(resume_command(run))}` to come back")
    finally:
        signal.signal(signal.SIGINT, previous)
    summarize(state, run)
    return state


def summarize(state: RunState, run: RunDir) -> None:
    out = console()
    if state.phase == "finished":
        out.print(f"[green]finished[/] {run.name} at step {state.step}; outputs in {safe(run.output)}:")
        for name in run.outputs():
            out.print(f"  {printable(name)}", markup=False)
    elif state.phase == "stopped":
        out.print(f"[yellow]stopped[/] at step {state.step}; continue with `{safe(resume_command(run))}`")
    elif state.phase == "failed":
        out.print(f"[red]failed[/]: {safe(state.reason)}")
        if state.hint:
            out.print(f"hint: {safe(state.hint)}")
