"""Run state: the reducer every view renders (monitor, headless view, `runs`).

`reduce(state, event)` is pure; a view replays the log once from the start and then
feeds each new event. Frozen snapshots are cheap to hand from a reader thread to the UI.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from stylora_tui.run import events as ev

LOSS_POINTS = 600  # kept for the loss chart; older points are thinned, not dropped
AVERAGE_WINDOW = 50
RATE_WINDOW = 20


@dataclass(frozen=True)
class RunState:
    name: str = ""
    phase: str = "waiting"  # waiting, caching, training, sampling, stopping, stopped, finished, failed
    step: int = 0
    total_steps: int = 0
    epoch: int = 0
    total_epochs: int = 0
    loss: float | None = None
    loss_avg: float | None = None
    losses: tuple[tuple[int, float], ...] = ()
    lr: float | None = None
    it_per_s: float | None = None
    last_ts: float | None = None
    train_s: float = 0.0
    cache_done: int = 0
    cache_total: int = 0
    checkpoints: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    samples: tuple[tuple[int, str], ...] = ()
    validation: tuple[tuple[int, float], ...] = ()
    skipped_steps: int = 0
    gpu: dict | None = None
    gpu_error: str = ""
    reason: str = ""
    hint: str = ""
    checkpoint_error: str = ""
    sample_done: int = 0
    sample_total: int = 0
    log: tuple[str, ...] = ()
    # Wall-clock time: when this trainer session started, and the training time of the
    # sessions before it (a resumed run's elapsed time goes on from theirs).
    session_started_ts: float | None = None
    earlier_s: float = 0.0
    _step_seconds: tuple[float, ...] = field(default=(), repr=False)  # the last steps' own durations
    _last_step: tuple[int, float] | None = field(default=None, repr=False)  # (step, train_s) of the last step

    def elapsed_s(self, now: float | None) -> float:
        """How long the run has been going: earlier sessions' training time, then this
        session's wall-clock time (caching, saves and previews included), up to `now` while a
        trainer runs, else up to its last event."""
        if self.session_started_ts is None:
            return self.train_s
        end = self.last_ts if self.finished or now is None else max(now, self.last_ts or now)
        return self.earlier_s + max(0.0, (end or self.session_started_ts) - self.session_started_ts)

    @property
    def finished(self) -> bool:
        return self.phase in ("stopped", "finished", "failed")

    @property
    def eta_s(self) -> float | None:
        if not self.it_per_s or not self.total_steps or self.finished:
            return None
        return max(0, self.total_steps - self.step) / self.it_per_s

    @property
    def step_s(self) -> float | None:
        """The median duration of the last steps: a first step slowed by warm-up (kernel
        autotuning, allocator growth) or a step cut by a save does not move it, as it moved
        the smoothed rate, whose early ETA was several times the real one."""
        if not self._step_seconds:
            return None
        ordered = sorted(self._step_seconds)
        middle = len(ordered) // 2
        return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2

    @property
    def progress(self) -> float:
        return self.step / self.total_steps if self.total_steps else 0.0


def format_duration(seconds: float | None) -> str:
    """h:mm:ss, or --:-- when unknown (an ETA before the first steps)."""
    if seconds is None:
        return "--:--"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _thin(points: tuple) -> tuple:
    """Halve the oldest half when full, so the chart keeps the whole run's shape."""
    if len(points) <= LOSS_POINTS:
        return points
    half = len(points) // 2
    return points[:half:2] + points[half:]


def _log(state: RunState, line: str) -> tuple[str, ...]:
    return (state.log + (line,))[-200:]


def _int(event: dict, key: str, default: int) -> int:
    value = event.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _number(event: dict, key: str, default: float | None) -> float | None:
    value = event.get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


def _text(event: dict, key: str, default: str = "") -> str:
    value = event.get(key)
    return value if isinstance(value, str) else default


def reduce(state: RunState, event: dict) -> RunState:
    """The next state. Never raises: a damaged or unexpected line (no `step`, a string where
    a number belongs, an unknown type) must not take down the view that shows it."""
    if not isinstance(event, dict):
        return state
    kind = event.get("type")
    ts = _number(event, "ts", None)
    base = replace(state, last_ts=ts or state.last_ts)
    if kind in (ev.RUN_STARTED, ev.RUN_RESUMED):
        step = _int(event, "step", state.step)
        return replace(
            base,
            session_started_ts=ts if ts is not None else state.session_started_ts,
            earlier_s=state.elapsed_s(None) if kind == ev.RUN_RESUMED and state.session_started_ts is not None else state.train_s,
            name=_text(event, "run", state.name),
            phase="caching",
            step=step,
            epoch=_int(event, "epoch", state.epoch),
            total_steps=_int(event, "total_steps", state.total_steps),
            total_epochs=_int(event, "epochs", state.total_epochs),
            reason="",
            hint="",
            log=_log(state, f"{'resumed' if kind == ev.RUN_RESUMED else 'started'} at step {step}"),
        )
    if kind == ev.CACHE_PROGRESS:
        return replace(base, phase="caching", cache_done=_int(event, "done", 0), cache_total=_int(event, "total", 0))
    if kind == ev.TRAIN_STEP:
        step, loss = _int(event, "step", state.step), _number(event, "loss", None)
        losses = state.losses
        if loss is not None:
            losses = _thin(losses + ((step, loss),))
        recent_losses = [l for _, l in losses[-AVERAGE_WINDOW:]]
        train_s = _number(event, "train_s", state.train_s) or 0.0
        durations = state._step_seconds
        if state._last_step is not None and step > state._last_step[0] and train_s > state._last_step[1]:
            per_step = (train_s - state._last_step[1]) / (step - state._last_step[0])
            durations = (durations + (per_step,))[-RATE_WINDOW:]
        fresh = replace(state, _step_seconds=durations)
        rate = 1 / fresh.step_s if fresh.step_s else _number(event, "it_per_s", None)
        return replace(
            base,
            phase="stopping" if state.phase == "stopping" else "training",
            step=step,
            epoch=_int(event, "epoch", state.epoch),
            total_steps=_int(event, "total_steps", state.total_steps),
            loss=loss,
            loss_avg=sum(recent_losses) / len(recent_losses) if recent_losses else state.loss_avg,
            losses=losses,
            lr=_number(event, "lr", state.lr),
            it_per_s=rate,
            train_s=train_s,
            _step_seconds=durations,
            _last_step=(step, train_s),
        )
    if kind == ev.STEP_SKIPPED:
        return replace(base, skipped_steps=state.skipped_steps + 1,
                       log=_log(state, f"step {_int(event, 'step', 0)} skipped: {_text(event, 'reason')}"))
    if kind == ev.CHECKPOINT_SAVED:
        return replace(base, checkpoints=(state.checkpoints + (_text(event, "path"),))[-20:], checkpoint_error="",
                       log=_log(state, f"checkpoint at step {_int(event, 'step', 0)}"))
    if kind == ev.CHECKPOINT_FAILED:
        problem = f"checkpoint at step {_int(event, 'step', 0)} not written: {_text(event, 'reason')}"
        return replace(base, checkpoint_error=problem, log=_log(state, problem))
    if kind == ev.OUTPUT_SAVED:
        return replace(base, outputs=state.outputs + (_text(event, "path"),), log=_log(state, f"saved {_text(event, 'path')}"))
    if kind == ev.SAMPLE_PROGRESS:
        phase = state.phase if state.phase in ("stopping", "stopped", "finished", "failed") else "sampling"
        return replace(base, phase=phase, sample_done=_int(event, "done", 0), sample_total=_int(event, "total", 0))
    if kind == ev.SAMPLE_SAVED:
        phase = "training" if state.phase == "sampling" else state.phase
        return replace(base, phase=phase, samples=state.samples + ((_int(event, "epoch", 0), _text(event, "path")),),
                       sample_done=0, sample_total=0)
    if kind == ev.VALIDATION:
        loss = _number(event, "loss", None)
        if loss is None:
            return base
        return replace(base, validation=state.validation + ((_int(event, "epoch", 0), loss),))
    if kind == ev.CONTROL_RECEIVED:
        intent = _text(event, "intent")
        phase = "stopping" if intent == "stop" else state.phase
        return replace(base, phase=phase, log=_log(state, f"{intent} requested"))
    if kind == ev.GPU_SAMPLE:
        gpus = event.get("gpus")
        first = gpus[0] if isinstance(gpus, list) and gpus and isinstance(gpus[0], dict) else None
        return replace(base, gpu=first, gpu_error=_text(event, "error"))
    if kind == ev.LOG:
        return replace(base, log=_log(state, _text(event, "message")))
    if kind == ev.RUN_STOPPED:
        return replace(base, phase="stopped", reason=_text(event, "reason"), log=_log(state, f"stopped at step {_int(event, 'step', state.step)}"))
    if kind == ev.RUN_FINISHED:
        return replace(base, phase="finished", step=_int(event, "step", state.step), log=_log(state, "finished"))
    if kind == ev.RUN_FAILED:
        return replace(base, phase="failed", reason=_text(event, "reason"), hint=_text(event, "hint"),
                       log=_log(state, f"failed: {_text(event, 'reason')}"))
    return base


def replay(events_list: list[dict], state: RunState | None = None) -> RunState:
    state = state or RunState()
    for event in events_list:
        state = reduce(state, event)
    return state
