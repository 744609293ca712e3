"""A run as a viewer sees it: its new events folded into the state, and whether a trainer
is alive. The monitor (a worker thread) and the headless view poll the same Watch, so
they agree on every rule: a trainer just launched counts as alive while it starts, a
restarted session's final event is the only one that ends it, and a trainer that died
without a final event (kill -9, the OOM killer) is gone once it has been quiet a moment.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from stylora_tui.run.event_log import EventTailer
from stylora_tui.run.events import Event
from stylora_tui.run.layout import RunDir
from stylora_tui.run.lock import lock_holder
from stylora_tui.run.state import RunState, reduce, replay
from stylora_tui.run.status import WAITING

START_GRACE_S = 60.0
LIVENESS_EVERY_S = 1.0
QUIET_S = 3.0


class Watch:
    def __init__(
        self,
        run: RunDir,
        source=None,
        alive: Callable[[], bool] | None = None,
        *,
        started_at: float | None = None,
        state: RunState | None = None,
        clock: Callable[[], float] = time.time,
        exit_code: Callable[[], int | None] | None = None,
    ) -> None:
        """`source` has read_new() -> events (a tail of events.jsonl by default); `alive`
        says whether a trainer holds the run (its lock by default); `started_at` is when
        this viewer launched a trainer, which counts as alive while it starts, unless
        `exit_code` (the launched process's, None while it runs) says it has ended."""
        self.run, self.clock = run, clock
        self.source = source if source is not None else EventTailer(run.events)
        self.alive_check = alive if alive is not None else (lambda: lock_holder(run))
        self.started_at = started_at
        self.exit_code_of = exit_code
        self.exit_code: int | None = None
        self.state = state or RunState(name=run.name)
        self.alive = True
        self.said: list[tuple[Event, str]] = []  # the last poll's events with the log line each added
        self.last_events: list[Event] = []  # the last poll's events, all of them
        self.seen_events = False
        self.last_event, self.last_check = clock(), float("-inf")

    @classmethod
    def session(cls, run: RunDir, offset: int, started_at: float, exit_code: Callable[[], int | None] | None = None) -> Watch:
        """A restarted trainer's session: the earlier log is history (its loss curve, its
        outputs), but only this session's final event ends the watch."""
        tailer = EventTailer(run.events)
        state = RunState(name=run.name)
        while tailer.offset < offset:
            batch = tailer.read_new(max_bytes=offset - tailer.offset)
            if not batch:
                break
            state = replay(batch, state)
        tailer.offset = offset
        return cls(run, tailer, started_at=started_at, state=replace(state, phase=WAITING), exit_code=exit_code)

    def poll(self) -> list[Event]:
        """Fold new events in, refresh liveness now and then; returns the new events (and
        keeps in `said` the log line each of them added: one poll can bring several)."""
        new = self.source.read_new()
        self.last_events = new
        self.said = []
        for event in new:
            before = self.state.log
            self.state = reduce(self.state, event)
            if self.state.log is not before and self.state.log:
                self.said.append((event, self.state.log[-1]))
        now = self.clock()
        if new:
            self.seen_events, self.last_event = True, now
        if self.exit_code is None and self.exit_code_of is not None:
            self.exit_code = self.exit_code_of()
        if now - self.last_check >= LIVENESS_EVERY_S or self.exit_code is not None:
            starting = (
                self.started_at is not None
                and not self.seen_events
                and now - self.started_at < START_GRACE_S
                and self.exit_code is None
            )
            self.alive = self.alive_check() or starting
            self.last_check = now
        return new

    @property
    def gone(self) -> bool:
        """The trainer died without a final event: no live trainer, and nothing new for a moment."""
        return not self.alive and not self.state.finished and self.clock() - self.last_event > QUIET_S

    @property
    def ended(self) -> bool:
        return self.state.finished or self.gone
