"""The queue: several runs (variants of one dataset, say) trained one after another, or one per
GPU at once on a machine with several, by a detached runner that survives the SSH session;
the machine is dealt with (`[rental]` of the last run) once, after the last run.

`python -m stylora_tui.launch.queue ROOT` is the runner; `stylora-tui queue RUN...` writes
the queue file (ROOT/queue.json) and starts it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from stylora_tui.atomic import write_json_atomic
from stylora_tui.errors import RunError, StyloraError
from stylora_tui.launch.launcher import Launched, TrainerLauncher
from stylora_tui.launch.prepare import frozen_config
from stylora_tui.launch.resume import restart
from stylora_tui.rental.lifecycle import QUEUED_ENV, deal_with_machine
from stylora_tui.run import control
from stylora_tui.run import events as ev
from stylora_tui.run.event_log import EventWriter, read_events
from stylora_tui.run.layout import RunDir
from stylora_tui.run.mirror_state import read_mirror_state
from stylora_tui.run.status import FINISHED, NEW, STOPPED
from stylora_tui.run.summary import run_status

QUEUE_FILE = "queue.json"
POLL_S = 2.0
STARTABLE = ("new", "stopped", "crashed", "failed")


@dataclass(frozen=True)
class Slot:
    """What a run was started on: GPU indexes (empty on a machine without one)."""

    gpus: tuple[int, ...]


def fits(needed: int, free: list[int], have_gpus: bool) -> tuple[int, ...] | None:
    """The GPUs to pin a run needing `needed` of them to, or None while they are busy."""
    if not have_gpus:
        return ()
    return tuple(free[:needed]) if len(free) >= needed else None


def queue_file(root: Path) -> Path:
    return root / QUEUE_FILE


def running_queue(root: Path) -> dict | None:
    """The queue running in `root`, or None."""
    try:
        data = json.loads(queue_file(root).read_text(encoding="utf-8"))
        os.kill(int(data["pid"]), 0)
        return data
    except (OSError, ValueError, KeyError, TypeError):
        return None


def queue_of(run: RunDir) -> list[str]:
    """The runs of the queue running `run`, in order; empty where `run` is not in a running
    queue. A queue deals with the machine once, after its last run."""
    queued = running_queue(run.path.parent)
    names = queued.get("runs", []) if queued is not None else []
    return list(names) if run.name in names else []


def machine_at_stake(run: RunDir) -> bool:
    """Whether the end of `run`, or of the queue it is in, may stop or give back this machine:
    what a keep request can cancel."""
    queued = queue_of(run)
    decides = RunDir(run.path.parent / queued[-1]) if queued else run
    try:
        rental = frozen_config(decides).rental
    except (StyloraError, OSError):
        return False
    return rental.on_finish != "nothing" or rental.on_failure != "nothing"


def keep_machine(run: RunDir) -> str:
    """Ask that this machine be kept when `run` ends, or when its queue does; what will happen,
    said for the user."""
    control.request(run, control.KEEP_MACHINE)
    if queued := queue_of(run):
        return f"{run.name}: this machine will be kept when its queue ends (after {queued[-1]})"
    return f"{run.name}: this machine will be kept when the run ends (a countdown under way is cancelled)"


def start_queue(root: Path, runs: list[RunDir], gpu_count: int) -> int:
    """Check the runs, write the queue and start its runner (detached); its pid."""
    for run in runs:
        status = run_status(run).status
        if status not in STARTABLE:
            raise RunError(f"run {run.name!r} is {status}", "a queue takes new, stopped, crashed or failed runs")
        needed = frozen_config(run).training.gpus  # a run without a frozen config is refused here
        if gpu_count and needed > gpu_count:
            raise RunError(f"run {run.name!r} needs {needed} GPUs; this machine has {gpu_count}", "lower training.gpus")
    busy = running_queue(root)
    if busy is not None:
        raise RunError(
            f"a queue is already running in {root} (pid {busy['pid']}: {', '.join(busy['runs'])})",
            "wait for it to end, or stop its runs with `stylora-tui stop RUN`",
        )
    with open(root / "queue.log", "ab") as log:
        runner = subprocess.Popen(
            [sys.executable, "-m", "stylora_tui.launch.queue", str(root)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    write_json_atomic(
        queue_file(root), {"runs": [r.name for r in runs], "pid": runner.pid, "gpus": gpu_count, "started": time.time()}
    )
    return runner.pid


def run_queue(root: Path) -> int:
    """The runner: start each run when its GPUs are free, in order; then the machine."""
    deadline = time.monotonic() + 60
    while not queue_file(root).is_file() and time.monotonic() < deadline:
        time.sleep(0.1)  # the command writes the file right after starting this process
    data = json.loads(queue_file(root).read_text(encoding="utf-8"))
    runs = [RunDir(root / name) for name in data["runs"]]
    gpu_count = int(data.get("gpus", 0))
    free = list(range(gpu_count))
    pending = list(runs)
    running: dict[str, tuple[Launched, tuple[int, ...]]] = {}
    while pending or running:
        while pending:
            needed = frozen_config(pending[0]).training.gpus
            gpus = fits(needed, free, gpu_count > 0)
            if gpus is None or (gpu_count == 0 and running):
                break
            run = pending.pop(0)
            try:
                launched = launch(run, gpus)
            except StyloraError as exc:  # its dataset changed, say: the others go on
                print(f"{run.name} not started: {exc.message} ({exc.hint})", flush=True)
                continue
            free = [g for g in free if g not in gpus]
            running[run.name] = (launched, gpus)
        for name, (launched, gpus) in list(running.items()):
            if launched.exit_code() is None:
                continue
            if restart_asked(RunDir(root / name)):
                # Its watchdog ended a stalled trainer for a new one, which the queue starts: it
                # watches the process, and would otherwise take the run for ended and start the
                # next one beside the restarted trainer, on the same GPUs.
                try:
                    running[name] = (launch(RunDir(root / name), gpus), gpus)
                    continue
                except StyloraError as exc:
                    print(f"{name} not restarted: {exc.message} ({exc.hint})", flush=True)
            del running[name]
            free = sorted(free + list(gpus))
        time.sleep(POLL_S)
    finish(runs)
    queue_file(root).unlink(missing_ok=True)
    return 0


def restart_asked(run: RunDir) -> bool:
    """Whether the run's watchdog ended its trainer to be restarted (`[rental] on_stall =
    "restart"`), and no trainer has started or ended the run since."""
    asked = False
    for event in read_events(run.events):
        if isinstance(event, ev.RunStalled):
            asked = event.action == "restart"
        elif isinstance(event, (ev.RunStarted, ev.RunResumed, *ev.FINAL)):
            asked = False
    return asked


def launch(run: RunDir, gpus: tuple[int, ...]) -> Launched:
    env = {QUEUED_ENV: "1"}
    if gpus:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(str(g) for g in gpus)
    launcher = TrainerLauncher(extra_env=env)
    if run_status(run).status == NEW:
        return launcher.launch(run, frozen_config(run).training.gpus)
    return restart(run, launcher)


def finish(runs: list[RunDir]) -> None:
    """After the last run: the machine, as the last run's `[rental]` says for how the queue
    ended, said in the last run's events; kept when any of the queue's runs was asked to keep
    it."""
    last = runs[-1]
    rental = frozen_config(last).rental
    ended, action = queue_end([run_status(r).status for r in runs], rental.on_finish, rental.on_failure)
    failing = [r.name for r in runs if (m := read_mirror_state(r)) is not None and m.error]
    why_not = f"the mirror of {', '.join(failing)} is failing; the machine is kept" if failing else ""
    writer = EventWriter(last.events)
    try:
        writer.write(ev.Log(message=f"the queue has ended ({ended})"))
        deal_with_machine(last, action, rental.command, writer.write, why_not, kept_by=runs)
    finally:
        writer.close()


def queue_end(statuses: list[str], on_finish: str, on_failure: str) -> tuple[str, str]:
    """(how the queue ended, said; what to do about the machine). A run the user stopped on the
    way is no failure: the queue went on for hours after, and on_failure ("nothing" unless
    set) would keep the machine billing all night. A stopped last run means the user is there,
    as for a single run: nothing."""
    if statuses[-1] == STOPPED:
        return "its last run was stopped", "nothing"
    if any(status not in (FINISHED, STOPPED) for status in statuses):
        return "not every run finished", on_failure
    stopped = statuses.count(STOPPED)
    return ("every run finished" if not stopped else f"{stopped} run(s) stopped on the way, the others finished"), on_finish


if __name__ == "__main__":
    raise SystemExit(run_queue(Path(sys.argv[1])))
