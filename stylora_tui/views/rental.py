"""The rental's lines, shared by `runs`, the monitor and the headless view: the mirror (when it
last held the run, or why it is failing), the meter and the way home."""

from __future__ import annotations

import time

from stylora_tui.atomic import pid_alive
from stylora_tui.display import printable
from stylora_tui.errors import StyloraError
from stylora_tui.launch.prepare import frozen_config
from stylora_tui.launch.queue import queue_of
from stylora_tui.rental.meter import Meter, meter
from stylora_tui.rental.take_home import address_note, take_home
from stylora_tui.run import events as ev
from stylora_tui.run.layout import RunDir
from stylora_tui.run.mirror_state import MirrorState
from stylora_tui.run.state import RunState, format_duration
from stylora_tui.run.status import FAILED, FINISHED, read_status
from stylora_tui.run.watch import Watch


def ago(ts: float | None, now: float | None = None) -> str:
    if ts is None:
        return "never"
    seconds = max(0.0, (now or time.time()) - ts)
    return "just now" if seconds < 5 else f"{format_duration(seconds)} ago"


def mirror_line(destination: str, ok_ts: float | None, error: str, retry_in_s: float | None = None) -> str:
    """'mirror → DEST: held 2:10 ago' or 'mirror → DEST FAILING: reason (retrying in 1:20)'."""
    if error:
        retry = f" (retrying in {format_duration(retry_in_s)})" if retry_in_s else ""
        held = f"; last held {ago(ok_ts)}" if ok_ts else ""
        return f"mirror → {destination} FAILING: {error}{retry}{held}"
    return f"mirror → {destination}: held {ago(ok_ts)}" if ok_ts else f"mirror → {destination}: not sent yet"


def mirror_state_line(state: MirrorState) -> str:
    return mirror_line(state.destination, state.last_ok_ts, state.error, state.retry_in_s)


def cost(price: float | None, elapsed_s: float, eta_s: float | None) -> Meter | None:
    return meter(price, elapsed_s, eta_s)


def expects_action(run: RunDir, state: RunState) -> bool:
    """Whether the run's config stops the machine after an end like this one, now: in a queue
    the queue deals with it after its last run, once this trainer is gone."""
    if queue_of(run):
        return False
    try:
        rental = frozen_config(run).rental
    except (StyloraError, OSError):
        return False
    action = {FINISHED: rental.on_finish, FAILED: rental.on_failure}.get(state.phase, "nothing")
    return action != "nothing"


def trainer_alive(run: RunDir) -> bool:
    """The trainer process itself (its lock is released before the countdown)."""
    pid = read_status(run.status_file).pid
    return pid is not None and pid > 0 and pid_alive(pid)


def await_rental(run: RunDir, watch: Watch, out, poll_s: float = 0.5) -> None:
    """After the final event: the mirror's last send and the countdown to stopping the
    machine, shown until the machine is dealt with (or the trainer is gone)."""
    if not expects_action(run, watch.state):
        return
    out.print("waiting for the mirror and the machine's countdown (Ctrl-C keeps the machine)")
    while watch.state.rental is None and trainer_alive(run):
        watch.poll()
        for _, line in watch.said:
            out.print(f"  {printable(line)}", markup=False)
        for event in watch.last_events:
            if isinstance(event, ev.RentalCountdown):
                out.print(f"  {event.action} in {event.seconds} s", markup=False)
        time.sleep(poll_s)
    watch.poll()
    for _, line in watch.said:
        out.print(f"  {printable(line)}", markup=False)


def summarize_rental(state: RunState, run: RunDir, out) -> None:
    """The end-of-run lines about the machine: the mirror, the cost and how to take the
    outputs home (what was done about the machine was said as it happened)."""
    if state.mirror_to:
        out.print(printable(mirror_line(state.mirror_to, state.mirror_ok_ts, state.mirror_error)), markup=False)
    found = cost(state.price_per_hour, state.elapsed_s(None), None)
    if found is not None:
        out.print(f"cost: {found.line()}", markup=False)
    if state.phase == FINISHED:
        home = take_home(run.output)
        if home:
            out.print("take the outputs home (on your own computer):")
            for command in home:
                out.print(f"  {printable(command)}", markup=False)
            if note := address_note():
                out.print(f"  note: {printable(note)}", markup=False)
