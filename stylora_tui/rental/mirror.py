"""The mirror as the run goes: a background thread in the trainer that sends the run folder
to `[mirror] to` after each save, retried with back-off, never blocking a step and never
failing the run. Its state is in the run's mirror.json (for `runs`) and in events (for the
monitor and the headless view).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, replace

from stylora_tui.atomic import write_json_atomic
from stylora_tui.errors import StyloraError
from stylora_tui.rental.destinations import MirrorError
from stylora_tui.run.layout import RunDir
from stylora_tui.run.mirror_state import MIRROR_FILE, MirrorState, read_mirror_state

FIRST_RETRY_S, LONGEST_RETRY_S = 10.0, 600.0


class Mirror:
    """`push()` sends the run once (raising on failure); `on_change(state)` hears each
    success and failure. Requests made while a send is under way are folded into one more."""

    def __init__(
        self,
        run: RunDir,
        destination,
        checkpoints: bool,
        on_change: Callable[[MirrorState], None] = lambda state: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.run, self.destination, self.checkpoints = run, destination, checkpoints
        self.on_change, self.clock = on_change, clock
        self.state = read_mirror_state(run) or MirrorState(destination.describe())
        self.state = replace(self.state, destination=destination.describe())
        self._wanted = threading.Condition()
        self._requested = 0  # requests made
        self._sent = 0  # the request number the last successful send covered
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="stylora-mirror", daemon=True)
        self._thread.start()

    def request(self) -> int:
        with self._wanted:
            self._requested += 1
            self._wanted.notify_all()
            return self._requested

    def flush(self, timeout_s: float) -> bool:
        """Send now and wait until the mirror holds everything up to here; False when it
        failed (the reason is in the state) or took longer than `timeout_s`."""
        wanted = self.request()
        deadline = time.monotonic() + timeout_s
        with self._wanted:
            while self._sent < wanted:
                left = deadline - time.monotonic()
                failures = self.state.failures
                if left <= 0:
                    return False
                self._wanted.wait(min(left, 1.0))
                if self.state.failures > failures:
                    return False
        return True

    def close(self) -> None:
        with self._wanted:
            self._closed = True
            self._wanted.notify_all()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        retry_at = None
        while True:
            with self._wanted:
                while not self._closed and self._requested == self._sent and retry_at is None:
                    self._wanted.wait()
                if retry_at is not None:
                    self._wanted.wait(max(0.0, retry_at - time.monotonic()))
                if self._closed:
                    return
                covering = self._requested
            retry_at = self._send(covering)

    def _send(self, covering: int) -> float | None:
        """One send; the monotonic time to try again after a failure, else None."""
        started = self.clock()
        try:
            self.destination.push(self.run, self.checkpoints)
        except (MirrorError, StyloraError, OSError, ValueError) as exc:
            return self._failed(str(exc))
        except Exception as exc:  # a library's own error must not end the thread
            return self._failed(f"{type(exc).__name__}: {exc}")
        self._record(
            replace(
                self.state,
                last_ok_ts=self.clock(),
                last_ok_s=round(self.clock() - started, 3),
                error="",
                error_ts=None,
                retry_in_s=None,
                failures=0,
            )
        )
        with self._wanted:
            self._sent = max(self._sent, covering)
            self._wanted.notify_all()
        return None

    def _failed(self, reason: str) -> float:
        failures = self.state.failures + 1
        wait = min(LONGEST_RETRY_S, FIRST_RETRY_S * 2 ** (failures - 1))
        self._record(replace(self.state, error=reason, error_ts=self.clock(), retry_in_s=wait, failures=failures))
        with self._wanted:
            self._wanted.notify_all()
        return time.monotonic() + wait

    def _record(self, state: MirrorState) -> None:
        self.state = state
        # A full disk must not stop the mirror telling the viewers through events.
        with contextlib.suppress(OSError):
            write_json_atomic(self.run.path / MIRROR_FILE, asdict(state))
        self.on_change(state)
