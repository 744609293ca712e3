"""Run state: the reducer every view renders (monitor, headless view, `runs`).

`reduce(state, event)` is pure; a view replays the log once from the start and then
feeds each new event. Frozen snapshots are cheap to hand from a reader thread to the UI.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from stylora_tui.core import events as ev

LOSS_POINTS = 600  # kept for the loss chart; older points are thinned, not dropped
AVERAGE_WINDOW = 50
RATE_WINDOW = 20


@dataclass(frozen=True)
class RunState:
    name: str = ""
    phase: str = "waiting"  # waiting, caching, training, stopping, stopped, finished, failed
    step: int = 0
    total_steps: int = 0
    epoch: int = 0
    total_epochs: int = 0
    loss: float | None = None
    loss_avg: float | None = None
    losses: tuple[tuple[int, float], ...] = ()
    lr: float | None = None
    it_per_s: float | None = None
    images_per_s: float | None = None
    memory_mib: float | None = None
    started_ts: float | None = None
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
    log: tuple[str, ...] = ()
    _recent: tuple[tuple[float, int], ...] = field(default=(), repr=False)

    @property
    def finished(self) -> bool:
        return self.phase in ("stopped", "finished", "failed")

    @property
    def eta_s(self) -> float | None:
        if not self.it_per_s or not self.total_steps or self.finished:
            return None
        return max(0, self.total_steps - self.step) / self.it_per_s

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


def reduce(state: RunState, event: dict) -> RunState:
    kind = event.get("type")
    ts = event.get("ts")
    base = replace(state, last_ts=ts or state.last_ts)
    if kind in (ev.RUN_STARTED, ev.RUN_RESUMED):
        return replace(
            base,
            name=event.get("run", state.name),
            phase="caching",
            step=event.get("step", state.step),
            epoch=event.get("epoch", state.epoch),
            total_steps=event.get("total_steps", state.total_steps),
            total_epochs=event.get("epochs", state.total_epochs),
            started_ts=state.started_ts or ts,
            reason="",
            log=_log(state, f"{'resumed' if kind == ev.RUN_RESUMED else 'started'} at step {event.get('step', 0)}"),
        )
    if kind == ev.CACHE_PROGRESS:
        return replace(base, phase="caching", cache_done=event.get("done", 0), cache_total=event.get("total", 0))
    if kind == ev.TRAIN_STEP:
        step, loss = event["step"], event.get("loss")
        losses = state.losses
        if isinstance(loss, (int, float)):
            losses = _thin(losses + ((step, float(loss)),))
        recent_losses = [l for _, l in losses[-AVERAGE_WINDOW:]]
        recent = (state._recent + ((ts or 0.0, step),))[-RATE_WINDOW:]
        rate = event.get("it_per_s")
        if rate is None and len(recent) > 1 and recent[-1][0] > recent[0][0]:
            rate = (recent[-1][1] - recent[0][1]) / (recent[-1][0] - recent[0][0])
        return replace(
            base,
            phase="stopping" if state.phase == "stopping" else "training",
            step=step,
            epoch=event.get("epoch", state.epoch),
            total_steps=event.get("total_steps", state.total_steps),
            loss=loss,
            loss_avg=sum(recent_losses) / len(recent_losses) if recent_losses else state.loss_avg,
            losses=losses,
            lr=event.get("lr", state.lr),
            it_per_s=rate,
            images_per_s=event.get("images_per_s", state.images_per_s),
            memory_mib=event.get("memory_mib", state.memory_mib),
            train_s=event.get("train_s", state.train_s),
            _recent=recent,
        )
    if kind == ev.STEP_SKIPPED:
        return replace(base, skipped_steps=state.skipped_steps + 1, log=_log(state, f"step {event.get('step')} skipped: {event.get('reason', '')}"))
    if kind == ev.CHECKPOINT_SAVED:
        return replace(base, checkpoints=(state.checkpoints + (event.get("path", ""),))[-20:], log=_log(state, f"checkpoint at step {event.get('step')}"))
    if kind == ev.OUTPUT_SAVED:
        return replace(base, outputs=state.outputs + (event.get("path", ""),), log=_log(state, f"saved {event.get('path', '')}"))
    if kind == ev.SAMPLE_SAVED:
        return replace(base, samples=state.samples + ((event.get("epoch", 0), event.get("path", "")),))
    if kind == ev.VALIDATION:
        return replace(base, validation=state.validation + ((event.get("epoch", 0), event.get("loss", 0.0)),))
    if kind == ev.CONTROL_RECEIVED:
        phase = "stopping" if event.get("intent") == "stop" else state.phase
        return replace(base, phase=phase, log=_log(state, f"{event.get('intent')} requested"))
    if kind == ev.GPU_SAMPLE:
        return replace(base, gpu=event.get("gpus", [None])[0] if event.get("gpus") else None, gpu_error=event.get("error", ""))
    if kind == ev.LOG:
        return replace(base, log=_log(state, event.get("message", "")))
    if kind == ev.RUN_STOPPED:
        return replace(base, phase="stopped", reason=event.get("reason", ""), log=_log(state, f"stopped at step {event.get('step', state.step)}"))
    if kind == ev.RUN_FINISHED:
        return replace(base, phase="finished", step=event.get("step", state.step), log=_log(state, "finished"))
    if kind == ev.RUN_FAILED:
        return replace(base, phase="failed", reason=event.get("reason", ""), log=_log(state, f"failed: {event.get('reason', '')}"))
    return base


def replay(events_list: list[dict], state: RunState | None = None) -> RunState:
    state = state or RunState()
    for event in events_list:
        state = reduce(state, event)
    return state
