"""Run state: the reducer every view renders (monitor, headless view, `runs`).

`reduce(state, event)` is pure and dispatches on the event's class, one small function per
type; a view replays the log once from the start and then feeds each new event. Frozen
snapshots are cheap to hand from a reader thread to the UI.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from stylora_tui.run import events as ev
from stylora_tui.run.status import CACHING, FAILED, FINISHED, SAMPLING, STALLED, STOPPED, STOPPING, TRAINING, WAITING

LOSS_POINTS = 600  # kept for the loss chart; older points are thinned, not dropped
AVERAGE_WINDOW = 50
RATE_WINDOW = 20


@dataclass(frozen=True)
class RunState:
    name: str = ""
    phase: str = WAITING  # one of run.status.PHASES
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
    judged: tuple[ev.EpochJudged, ...] = ()  # the latest judgement of each (epoch, strength)
    suggested: ev.AdapterSuggested | None = None
    mirror_ok_ts: float | None = None  # when the mirror last held the run
    mirror_error: str = ""  # why it is failing, while it is
    mirror_to: str = ""
    countdown: ev.RentalCountdown | None = None  # the machine is about to be stopped
    price_per_hour: float | None = None
    rental: ev.RentalAction | None = None  # what was done about the machine
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

    @property
    def finished(self) -> bool:
        return self.phase in (STOPPED, FINISHED, FAILED)

    def elapsed_s(self, now: float | None) -> float:
        """How long the run has been going: earlier sessions' training time, then this
        session's wall-clock time (caching, saves and previews included), up to `now` while a
        trainer runs, else up to its last event."""
        if self.session_started_ts is None:
            return self.train_s
        end = self.last_ts if self.finished or now is None else max(now, self.last_ts or now)
        return self.earlier_s + max(0.0, (end or self.session_started_ts) - self.session_started_ts)

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


# ---------------------------------------------------------------- one function per event type


def _started(state: RunState, event: ev.RunStarted) -> RunState:
    resumed = isinstance(event, ev.RunResumed)
    return replace(
        state,
        session_started_ts=event.ts if event.ts is not None else state.session_started_ts,
        earlier_s=state.elapsed_s(None) if resumed and state.session_started_ts is not None else state.train_s,
        name=event.run or state.name,
        phase=CACHING,
        step=event.step,
        epoch=event.epoch or state.epoch,
        total_steps=event.total_steps or state.total_steps,
        total_epochs=event.epochs or state.total_epochs,
        reason="",
        hint="",
        log=_log(state, f"{'resumed' if resumed else 'started'} at step {event.step}"),
    )


def _cache_progress(state: RunState, event: ev.CacheProgress) -> RunState:
    return replace(state, phase=CACHING, cache_done=event.done, cache_total=event.total)


def _train_step(state: RunState, event: ev.TrainStep) -> RunState:
    losses = _thin(state.losses + ((event.step, event.loss),)) if event.loss is not None else state.losses
    recent_losses = [loss for _, loss in losses[-AVERAGE_WINDOW:]]
    train_s = event.train_s if event.train_s is not None else state.train_s
    durations = state._step_seconds
    if state._last_step is not None and event.step > state._last_step[0] and train_s > state._last_step[1]:
        per_step = (train_s - state._last_step[1]) / (event.step - state._last_step[0])
        durations = (durations + (per_step,))[-RATE_WINDOW:]
    median = replace(state, _step_seconds=durations).step_s
    return replace(
        state,
        phase=STOPPING if state.phase == STOPPING else TRAINING,
        step=event.step,
        epoch=event.epoch or state.epoch,
        total_steps=event.total_steps or state.total_steps,
        loss=event.loss,
        loss_avg=sum(recent_losses) / len(recent_losses) if recent_losses else state.loss_avg,
        losses=losses,
        lr=event.lr if event.lr is not None else state.lr,
        it_per_s=1 / median if median else event.it_per_s,
        train_s=train_s,
        _step_seconds=durations,
        _last_step=(event.step, train_s),
    )


def _step_skipped(state: RunState, event: ev.StepSkipped) -> RunState:
    return replace(state, skipped_steps=state.skipped_steps + 1, log=_log(state, f"step {event.step} skipped: {event.reason}"))


def _checkpoint_saved(state: RunState, event: ev.CheckpointSaved) -> RunState:
    return replace(
        state,
        checkpoints=(state.checkpoints + (event.path,))[-20:],
        checkpoint_error="",
        log=_log(state, f"checkpoint at step {event.step}"),
    )


def _checkpoint_failed(state: RunState, event: ev.CheckpointFailed) -> RunState:
    problem = f"checkpoint at step {event.step} not written: {event.reason}"
    return replace(state, checkpoint_error=problem, log=_log(state, problem))


def _output_saved(state: RunState, event: ev.OutputSaved) -> RunState:
    return replace(state, outputs=state.outputs + (event.path,), log=_log(state, f"saved {event.path}"))


def _sample_progress(state: RunState, event: ev.SampleProgress) -> RunState:
    phase = state.phase if state.phase in (STOPPING, STOPPED, FINISHED, FAILED) else SAMPLING
    return replace(state, phase=phase, sample_done=event.done, sample_total=event.total)


def _sample_saved(state: RunState, event: ev.SampleSaved) -> RunState:
    phase = TRAINING if state.phase == SAMPLING else state.phase
    return replace(state, phase=phase, samples=state.samples + ((event.epoch, event.path),), sample_done=0, sample_total=0)


def _validation(state: RunState, event: ev.ValidationLoss) -> RunState:
    return replace(state, validation=state.validation + ((event.epoch, event.loss),))


def _judged(state: RunState, event: ev.EpochJudged) -> RunState:
    others = tuple(j for j in state.judged if (j.epoch, j.strength) != (event.epoch, event.strength))
    judged = tuple(sorted(others + (event,), key=lambda j: (j.epoch, -j.strength)))
    return replace(state, judged=judged, log=_log(state, judged_line(event)))


def judged_line(event: ev.EpochJudged) -> str:
    name = f"e{event.epoch}" + (f" at {event.strength:g}" if event.strength != 1.0 else "")
    parts = [f"style {event.style_score:.3f}" if event.style_score is not None else "no style score"]
    names = sorted({str(c.get("training_image", "")).replace("\\", "/").rsplit("/", 1)[-1] for c in event.copies})
    parts.append(f"copies {', '.join(names)}" if names else "no copies")
    return f"{name}: {', '.join(parts)}"


def suggested_line(event: ev.AdapterSuggested) -> str:
    at = f" at {event.strength:g}" if event.strength != 1.0 else ""
    return f"suggested e{event.epoch}{at} ({event.adapter}): {event.why}"


def _suggested(state: RunState, event: ev.AdapterSuggested) -> RunState:
    return replace(state, suggested=event, log=_log(state, suggested_line(event)))


def _mirror_synced(state: RunState, event: ev.MirrorSynced) -> RunState:
    return replace(state, mirror_ok_ts=event.ts, mirror_error="", mirror_to=event.destination)


def _mirror_failed(state: RunState, event: ev.MirrorFailed) -> RunState:
    retry = f" (retrying in {format_duration(event.retry_in_s)})" if event.retry_in_s else ""
    line = f"mirror to {event.destination} failed: {event.reason}{retry}"
    return replace(state, mirror_error=event.reason, mirror_to=event.destination, log=_log(state, line))


def _stalled(state: RunState, event: ev.RunStalled) -> RunState:
    then = {"restart": "restarting from the newest checkpoint", "fail": "failing the run"}.get(event.action, "waiting")
    line = f"stalled: no progress for {format_duration(event.seconds)} at step {event.step or state.step}; stacks in logs/trainer.log; {then}"
    return replace(state, phase=STALLED, log=_log(state, line))


def _price(state: RunState, event: ev.MachinePrice) -> RunState:
    return replace(state, price_per_hour=event.price_per_hour)


def _countdown(state: RunState, event: ev.RentalCountdown) -> RunState:
    line = f"{event.action} this machine in {event.seconds} s ({event.provider}); stylora-tui stop {state.name} --keep-machine cancels"
    first = state.countdown is None or state.countdown.action != event.action
    return replace(state, countdown=event, log=_log(state, line) if first else state.log)


def _rental(state: RunState, event: ev.RentalAction) -> RunState:
    said = {
        "done": f"{event.action}: {event.command}",
        "cancelled": f"{event.action} cancelled: this machine keeps running (and billing)",
        "failed": f"{event.action} failed: {event.command}: {event.output}",
        "skipped": f"{event.action} not done: {event.output}",
    }.get(event.outcome, f"{event.action} {event.outcome}")
    return replace(state, countdown=None, rental=event, log=_log(state, said))


def _control(state: RunState, event: ev.ControlReceived) -> RunState:
    phase = STOPPING if event.intent == "stop" else state.phase
    return replace(state, phase=phase, log=_log(state, f"{event.intent} requested"))


def _gpu(state: RunState, event: ev.GpuSample) -> RunState:
    return replace(state, gpu=event.gpus[0] if event.gpus else None, gpu_error=event.error)


def _logged(state: RunState, event: ev.Log) -> RunState:
    return replace(state, log=_log(state, event.message))


def _stopped(state: RunState, event: ev.RunStopped) -> RunState:
    return replace(state, phase=STOPPED, reason=event.reason, log=_log(state, f"stopped at step {event.step or state.step}"))


def _finished(state: RunState, event: ev.RunFinished) -> RunState:
    return replace(state, phase=FINISHED, step=event.step or state.step, log=_log(state, "finished"))


def _failed(state: RunState, event: ev.RunFailed) -> RunState:
    return replace(state, phase=FAILED, reason=event.reason, hint=event.hint, log=_log(state, f"failed: {event.reason}"))


_REDUCERS: dict[type[ev.Event], Callable] = {
    ev.RunStarted: _started,
    ev.RunResumed: _started,
    ev.CacheProgress: _cache_progress,
    ev.TrainStep: _train_step,
    ev.StepSkipped: _step_skipped,
    ev.CheckpointSaved: _checkpoint_saved,
    ev.CheckpointFailed: _checkpoint_failed,
    ev.OutputSaved: _output_saved,
    ev.SampleProgress: _sample_progress,
    ev.SampleSaved: _sample_saved,
    ev.ValidationLoss: _validation,
    ev.EpochJudged: _judged,
    ev.AdapterSuggested: _suggested,
    ev.MirrorSynced: _mirror_synced,
    ev.MirrorFailed: _mirror_failed,
    ev.RunStalled: _stalled,
    ev.MachinePrice: _price,
    ev.RentalCountdown: _countdown,
    ev.RentalAction: _rental,
    ev.ControlReceived: _control,
    ev.GpuSample: _gpu,
    ev.Log: _logged,
    ev.RunStopped: _stopped,
    ev.RunFinished: _finished,
    ev.RunFailed: _failed,
}


def reduce(state: RunState, event: ev.Event) -> RunState:
    """The next state. An event type this reducer has no rule for (epoch.finished) only
    moves the clock; it never raises."""
    rule = _REDUCERS.get(type(event))
    after = rule(state, event) if rule is not None else state
    return replace(after, last_ts=event.ts or state.last_ts)


def replay(events_list: Iterable[ev.Event], state: RunState | None = None) -> RunState:
    state = state or RunState()
    for event in events_list:
        state = reduce(state, event)
    return state
