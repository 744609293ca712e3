"""Fakes for the TUI's services: a launcher that records, a scripted event source."""

from __future__ import annotations

from dataclasses import dataclass, field

from stylora_tui.launch.launcher import Launched
from stylora_tui.run import events as ev


@dataclass
class RecordingLauncher:
    launched: list = field(default_factory=list)

    def launch(self, run, processes: int = 1):
        self.launched.append(run)
        return Launched(pid=4242, log=str(run.trainer_log))


class ScriptedSource:
    """Hands out a fixed list of events, a few per read, like a live log."""

    def __init__(self, events: list[ev.Event], per_read: int = 50) -> None:
        self.events = list(events)
        self.per_read = per_read

    def read_new(self) -> list[ev.Event]:
        batch, self.events = self.events[: self.per_read], self.events[self.per_read :]
        return batch


def training_events(run: str = "run-01", steps: int = 40, gpu: bool = True) -> list[ev.Event]:
    events: list[ev.Event] = [ev.RunStarted(ts=1000.0, run=run, step=0, epoch=1, total_steps=100, epochs=10)]
    if gpu:
        events.append(
            ev.GpuSample(
                ts=1000.5,
                gpus=(
                    {
                        "index": 0,
                        "name": "NVIDIA H100 80GB HBM3",
                        "utilization_pct": 97,
                        "memory_used_mib": 20480.0,
                        "memory_total_mib": 81559.0,
                        "temperature_c": 61,
                        "power_w": 512.0,
                        "power_limit_w": 700.0,
                        "sm_clock_mhz": 1980,
                        "memory_clock_mhz": 2619,
                    },
                ),
            )
        )
    else:
        events.append(ev.GpuSample(ts=1000.5, error="no NVIDIA GPU found"))
    for step in range(1, steps + 1):
        events.append(
            ev.TrainStep(
                ts=1001.0 + step,
                step=step,
                epoch=1 + step // 10,
                total_steps=100,
                loss=0.1 + 0.05 * ((step * 7) % 5) / 5,
                lr=1e-4,
                it_per_s=1.0,
                train_s=float(step),
            )
        )
    events.append(ev.OutputSaved(ts=1050.0, epoch=2, step=20, path=f"output/{run}-e0002.safetensors"))
    events.append(ev.CheckpointSaved(ts=1050.0, epoch=3, step=20, path="checkpoints/step-000020"))
    return events
