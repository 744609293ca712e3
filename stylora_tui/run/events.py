"""The run's event log: append-only JSON lines, one writer (the trainer), many readers.

In code each event is a frozen dataclass, one class per type (`TrainStep`, `OutputSaved`,
...): the trainer writes instances, every reader gets instances back, and the reducer
dispatches on the class. The JSON line, `{"v": 1, "ts": ..., "type": "train.step", ...}`, is
only the wire format, made and read in one place (run/event_log.py: `encode`, `decode`). A line that is
damaged, of an unknown type or missing a field its type needs is skipped by every reader,
never raised: a disk that filled mid-write must not take a view down.

Readers tail the file from a byte offset and never re-read what they have; a partial last
line (the writer is mid-append) is left for the next read. Nothing is rewritten in place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

EVENT_VERSION = 1


@dataclass(frozen=True, kw_only=True)
class Event:
    TYPE: ClassVar[str] = ""
    # Stamped by the writer when the event is written; read back from the line.
    ts: float | None = None


@dataclass(frozen=True, kw_only=True)
class RunStarted(Event):
    TYPE: ClassVar[str] = "run.started"
    run: str = ""
    step: int = 0
    epoch: int = 0
    total_steps: int = 0
    epochs: int = 0
    steps_per_epoch: int = 0
    images: int = 0
    device: str = ""
    mixed_precision: str = ""
    modules: int = 0
    trainable_params: int = 0
    gpus: int = 1
    checkpoint: str | None = None  # the checkpoint a resumed session starts from
    prediction: str = ""
    zero_terminal_snr: bool = False
    random_crop: bool = False
    gradient_checkpointing: bool = False


@dataclass(frozen=True, kw_only=True)
class RunResumed(RunStarted):
    TYPE: ClassVar[str] = "run.resumed"


@dataclass(frozen=True, kw_only=True)
class CacheProgress(Event):
    TYPE: ClassVar[str] = "cache.progress"
    done: int
    total: int


@dataclass(frozen=True, kw_only=True)
class TrainStep(Event):
    TYPE: ClassVar[str] = "train.step"
    step: int
    epoch: int = 0
    total_steps: int = 0
    loss: float | None = None
    lr: float | None = None
    it_per_s: float | None = None
    images_per_s: float | None = None
    memory_mib: float | None = None
    train_s: float | None = None  # training time so far, every session of the run together


@dataclass(frozen=True, kw_only=True)
class StepSkipped(Event):
    TYPE: ClassVar[str] = "train.skipped"
    step: int
    epoch: int = 0
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class EpochFinished(Event):
    TYPE: ClassVar[str] = "epoch.finished"
    epoch: int
    step: int = 0


@dataclass(frozen=True, kw_only=True)
class CheckpointSaved(Event):
    TYPE: ClassVar[str] = "checkpoint.saved"
    step: int
    epoch: int = 0
    path: str


@dataclass(frozen=True, kw_only=True)
class CheckpointFailed(Event):
    TYPE: ClassVar[str] = "checkpoint.failed"
    step: int
    epoch: int = 0
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class OutputSaved(Event):
    TYPE: ClassVar[str] = "output.saved"
    epoch: int = 0
    step: int = 0
    path: str
    modules: int = 0
    bytes: int = 0


@dataclass(frozen=True, kw_only=True)
class SampleProgress(Event):
    TYPE: ClassVar[str] = "sample.progress"
    label: str = ""
    epoch: int = 0
    step: int = 0
    done: int
    total: int


@dataclass(frozen=True, kw_only=True)
class SampleSaved(Event):
    TYPE: ClassVar[str] = "sample.saved"
    epoch: int = 0
    step: int = 0
    path: str
    images: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ValidationLoss(Event):
    TYPE: ClassVar[str] = "validation.loss"
    epoch: int
    step: int = 0
    loss: float
    images: int = 0


@dataclass(frozen=True, kw_only=True)
class EpochJudged(Event):
    """A preview set judged: its style score against the training set (None with the reason
    when there is none) and the training images its previews copy."""

    TYPE: ClassVar[str] = "epoch.judged"
    epoch: int
    label: str = ""
    strength: float = 1.0
    style_score: float | None = None
    style_unavailable: str | None = None
    copies: tuple[dict, ...] = ()  # {"sample", "training_image", "similarity"}


@dataclass(frozen=True, kw_only=True)
class AdapterSuggested(Event):
    """The epoch and strength to use, and why in one line (choose/suggest.py)."""

    TYPE: ClassVar[str] = "adapter.suggested"
    epoch: int
    strength: float = 1.0
    adapter: str = ""
    why: str = ""


@dataclass(frozen=True, kw_only=True)
class MirrorSynced(Event):
    """The mirror holds the run as it stood when the send began."""

    TYPE: ClassVar[str] = "mirror.synced"
    destination: str
    seconds: float = 0.0


@dataclass(frozen=True, kw_only=True)
class MirrorFailed(Event):
    TYPE: ClassVar[str] = "mirror.failed"
    destination: str
    reason: str
    retry_in_s: float | None = None


@dataclass(frozen=True, kw_only=True)
class RunStalled(Event):
    """No step progressed for `seconds`: every thread's stack is in the trainer's log; `action`
    (rental.on_stall) is what happens next: nothing (wait), restart or fail."""

    TYPE: ClassVar[str] = "run.stalled"
    step: int = 0
    seconds: float
    action: str = "nothing"


@dataclass(frozen=True, kw_only=True)
class MachinePrice(Event):
    """What this machine costs per hour, and who said so (the config, or the provider)."""

    TYPE: ClassVar[str] = "machine.price"
    price_per_hour: float
    source: str = ""


@dataclass(frozen=True, kw_only=True)
class RentalCountdown(Event):
    """The machine will be stopped (or terminated) in `seconds` unless cancelled."""

    TYPE: ClassVar[str] = "rental.countdown"
    action: str
    seconds: int
    provider: str = ""


@dataclass(frozen=True, kw_only=True)
class RentalAction(Event):
    """What was done about the machine, or why nothing was: `outcome` is done, cancelled,
    failed or skipped."""

    TYPE: ClassVar[str] = "rental.action"
    action: str
    outcome: str
    command: str = ""
    output: str = ""


@dataclass(frozen=True, kw_only=True)
class ControlReceived(Event):
    TYPE: ClassVar[str] = "control.received"
    intent: str
    step: int = 0
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class GpuSample(Event):
    TYPE: ClassVar[str] = "gpu.sample"
    gpus: tuple[dict, ...] = ()  # one NVML reading per GPU (integrations.nvml.GpuReading.to_json)
    error: str = ""


@dataclass(frozen=True, kw_only=True)
class Log(Event):
    TYPE: ClassVar[str] = "log"
    message: str


@dataclass(frozen=True, kw_only=True)
class RunStopped(Event):
    TYPE: ClassVar[str] = "run.stopped"
    step: int = 0
    epoch: int = 0
    reason: str = ""
    checkpoint: str | None = None  # where a resume continues; None: nothing new was saved


@dataclass(frozen=True, kw_only=True)
class RunFinished(Event):
    TYPE: ClassVar[str] = "run.finished"
    step: int = 0
    epoch: int = 0
    output: str
    train_s: float | None = None


@dataclass(frozen=True, kw_only=True)
class RunFailed(Event):
    TYPE: ClassVar[str] = "run.failed"
    reason: str
    hint: str = ""


EVENT_TYPES: dict[str, type[Event]] = {
    cls.TYPE: cls
    for cls in (
        RunStarted,
        RunResumed,
        CacheProgress,
        TrainStep,
        StepSkipped,
        EpochFinished,
        CheckpointSaved,
        CheckpointFailed,
        OutputSaved,
        SampleProgress,
        SampleSaved,
        ValidationLoss,
        EpochJudged,
        AdapterSuggested,
        MirrorSynced,
        MirrorFailed,
        RunStalled,
        MachinePrice,
        RentalCountdown,
        RentalAction,
        ControlReceived,
        GpuSample,
        Log,
        RunStopped,
        RunFinished,
        RunFailed,
    )
}
FINAL = (RunStopped, RunFinished, RunFailed)
# Events whose loss a crash must not take: flushed to disk before the write returns.
DURABLE = (*FINAL, RunStarted, CheckpointSaved, CheckpointFailed, OutputSaved, RunStalled)
