"""The watchdog: a trainer that stops making progress (a deadlocked data thread, a stuck
collective) must not burn a rented GPU in silence.

Progress is any event that says work was done: a step, a denoising step, a save, a
judgement, a download's progress. Once training has started (loading the model and caching
latents come before), with none for max(10 min, 20 x the median step), every thread's Python
stack goes to the trainer's log, the status says `stalled`, the webhook is told, and
`[rental] on_stall` decides: nothing (keep waiting: progress clears it), fail (the run fails
saying so; the machine is dealt with as on_failure says), or restart (this trainer ends and a
new one resumes from the newest complete checkpoint; once per run, then it fails).
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import NoReturn

from stylora_tui.config.schema import Config
from stylora_tui.integrations import notify
from stylora_tui.launch.launcher import OWN_GROUP_ENV, TrainerLauncher
from stylora_tui.rental.lifecycle import QUEUED_ENV
from stylora_tui.run import events as ev
from stylora_tui.run.event_log import read_events
from stylora_tui.run.layout import RunDir
from stylora_tui.run.state import format_duration
from stylora_tui.run.status import FAILED, RUNNING, STALLED
from stylora_tui.trainer.seams import Reporter

# Test-only: the floor is ten minutes on a real run.
FLOOR_S = float(os.environ.get("STYLORA_STALL_FLOOR_S", "600"))
STEPS_OF_SILENCE = 20
CHECK_EVERY_S = min(5.0, FLOOR_S / 4)
# Events from other threads (telemetry, the mirror) or about the machine say nothing of the
# main thread's work; the rest do (a log line included: a download's progress is one).
NOT_PROGRESS = (ev.GpuSample, ev.MirrorSynced, ev.MirrorFailed, ev.MachinePrice, ev.RunStalled)


class Watchdog:
    def __init__(self, run: RunDir, config: Config, reporter: Reporter, wind_up: Callable[[], None]) -> None:
        """`wind_up()`: what the process does after its final event (the webhook, the mirror,
        the machine), run here when the watchdog fails the run for a stuck main thread."""
        self.run, self.config, self.reporter, self.wind_up = run, config, reporter, wind_up
        self.last_progress = time.monotonic()
        self.last_step: tuple[int, float] | None = None
        self.step_seconds: deque[float] = deque(maxlen=50)
        self.stalled_since: float | None = None
        # Armed when training starts: loading the model and caching latents come before, and
        # a first step's warm-up (kernel autotuning) has no median to be measured against.
        self.armed = False
        self.done = threading.Event()
        reporter.listeners.append(self.heard)
        threading.Thread(target=self.watch, name="stylora-watchdog", daemon=True).start()

    def heard(self, event: ev.Event) -> None:
        if isinstance(event, ev.FINAL):
            self.done.set()
            return
        if isinstance(event, NOT_PROGRESS):
            return
        if isinstance(event, ev.RunStarted):
            self.armed = True
        now = time.monotonic()
        if isinstance(event, ev.TrainStep):
            if self.last_step is not None and event.step > self.last_step[0]:
                self.step_seconds.append((now - self.last_step[1]) / (event.step - self.last_step[0]))
            self.last_step = (event.step, now)
        self.last_progress = now
        if self.stalled_since is not None:
            self.stalled_since = None
            self.reporter.status(force=True, state=RUNNING)
            self.reporter.emit(ev.Log(message="progress again after the stall"))  # heard here: harmless

    def limit_s(self) -> float:
        median = statistics.median(self.step_seconds) if self.step_seconds else 0.0
        return max(FLOOR_S, STEPS_OF_SILENCE * median)

    def watch(self) -> None:
        while not self.done.wait(CHECK_EVERY_S):
            silent = time.monotonic() - self.last_progress
            if self.armed and self.stalled_since is None and silent > self.limit_s():
                self.stalled_since = time.monotonic()
                self.stalled(silent)

    def stalled(self, silent: float) -> None:
        action = self.config.rental.on_stall
        if action == "restart" and self.restarted_before():
            action = "fail"  # once per run: a second stall is not a glitch
        sys.stderr.write(f"\n--- stylora-tui watchdog: no progress for {silent:.0f} s; every thread's stack:\n")
        sys.stderr.flush()
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        step = self.last_step[0] if self.last_step else 0
        self.reporter.emit(ev.RunStalled(step=step, seconds=round(silent, 1), action=action))
        self.reporter.status(force=True, state=STALLED)
        self.tell(silent, action)
        if action == "fail":
            self.fail(silent)
        elif action == "restart":
            self.restart()

    def restarted_before(self) -> bool:
        return any(isinstance(e, ev.RunStalled) and e.action == "restart" for e in read_events(self.run.events))

    def tell(self, silent: float, action: str) -> None:
        url = notify.resolve_url(self.config.notify.url)
        if not url or notify.url_problem(self.config.notify.url):
            return
        current = self.reporter.current
        stalled = notify.RunEnded(
            self.run.name,
            "stalled",
            current.step if current else 0,
            current.total_steps if current else 0,
            self.reporter.train_s,
            str(self.run.path),
            f"no progress for {format_duration(silent)}; stacks in {self.run.trainer_log}",
            {"restart": "restarting from the newest checkpoint", "fail": "the run is failed"}.get(action, "still waiting"),
        )
        notify.send(url, notify.kind_of(url, self.config.notify.kind), stalled)

    def fail(self, silent: float) -> None:
        """The main thread is stuck: the final event and status are written from here, and the
        process ends (its lock with it)."""
        reason = f"the trainer stalled: no progress for {format_duration(silent)}"
        hint = f"every thread's stack is in {self.run.trainer_log}; `stylora-tui --resume {self.run.name}` continues from the newest checkpoint"
        self.reporter.emit(ev.RunFailed(reason=reason, hint=hint))
        self.reporter.status(force=True, state=FAILED, reason=reason, hint=hint)
        self.wind_up()
        self.end_process()

    def restart(self) -> None:
        """A new trainer for this run, started once this one (and its lock) is gone: by the
        queue for a queued run (it watches its runs' processes and restarts the run when this
        one has ended), else from here."""
        if os.environ.get(QUEUED_ENV) == "1":
            self.end_process()
        command = TrainerLauncher().command(self.run, self.config.training.gpus)
        waiting = 'while kill -0 "$0" 2>/dev/null; do sleep 1; done; exec "$@"'
        with open(self.run.trainer_log, "ab") as log, open(os.devnull, "rb") as devnull:
            subprocess.Popen(
                ["sh", "-c", waiting, str(os.getpid()), *command],
                stdin=devnull,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
                cwd=str(self.run.path),
                env={**os.environ, "PYTHONUNBUFFERED": "1", OWN_GROUP_ENV: "1"},
            )
        self.end_process()

    def end_process(self) -> NoReturn:
        sys.stderr.flush()
        if os.environ.get(OWN_GROUP_ENV) == "1":
            # Started by the launcher in a session of its own: every process of the run
            # (several GPUs: accelerate and each rank) is in this group, and nothing else.
            with contextlib.suppress(OSError):
                os.killpg(os.getpgid(0), signal.SIGKILL)
        os._exit(1)
