"""The machine dealt with at the end: after a countdown anyone can cancel (the keep-machine
intent, from `stylora-tui stop RUN --keep-machine`, a key in the monitor or Ctrl-C in the
headless view), the provider's stop or terminate runs; every outcome is an event of the run
whose end it follows. Used by the trainer at a run's end and by the queue after its last run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence

from stylora_tui.rental.provider import Provider, detect, run_action, shown
from stylora_tui.run import control
from stylora_tui.run import events as ev
from stylora_tui.run.layout import RunDir

# Test-only: the tests count down in a second or two, not two minutes.
COUNTDOWN_S = int(os.environ.get("STYLORA_RENTAL_COUNTDOWN_S", "120"))
COUNTDOWN_EVERY_S = 10
QUEUED_ENV = "STYLORA_QUEUED"  # set for a trainer the queue started: the queue deals with the machine
NO_PROVIDER = (
    "no provider found (not RunPod: no RUNPOD_POD_ID; not Vast.ai: no CONTAINER_ID); "
    "set [rental] command, e.g. sudo shutdown -h now"
)


def deal_with_machine(
    run: RunDir,
    action: str,
    command: str,
    emit: Callable[[ev.Event], object],
    why_not: str = "",
    kept_by: Sequence[RunDir] = (),
) -> None:
    """`action` (stop / terminate) after the countdown, unless `why_not` says it must not
    happen or someone keeps the machine: a keep request on `run`, or on any of `kept_by`
    (a queue's runs: the user asked it of the run they were watching, whichever it was)."""
    if action == "nothing":
        return
    provider = detect(os.environ, command)
    why_not = why_not or ("" if provider is not None else NO_PROVIDER)
    if why_not or provider is None:
        emit(ev.RentalAction(action=action, outcome="skipped", output=why_not))
        return
    if not count_down([run, *kept_by], action, provider, emit):
        emit(ev.RentalAction(action=action, outcome="cancelled"))
        return
    ok, output = run_action(provider, action)
    emit(
        ev.RentalAction(
            action=action, outcome="done" if ok else "failed", command=shown(provider.command_for(action)), output=output
        )
    )


def count_down(runs: Sequence[RunDir], action: str, provider: Provider, emit: Callable[[ev.Event], object]) -> bool:
    """True when the countdown ran out; False when someone asked any of `runs` to keep the
    machine (every such request is consumed: it has been honoured)."""
    deadline = time.monotonic() + COUNTDOWN_S
    said_at = None
    while True:
        left = deadline - time.monotonic()
        keeping = [run for run in runs if control.KEEP_MACHINE in control.pending(run)]
        if keeping:
            for run in keeping:
                control.consume(run, control.KEEP_MACHINE)
            return False
        if left <= 0:
            return True
        if said_at is None or said_at - left >= COUNTDOWN_EVERY_S:
            emit(ev.RentalCountdown(action=action, seconds=round(left), provider=provider.name))
            said_at = left
        time.sleep(min(0.5, left))
