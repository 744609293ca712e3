"""The machine a run would train on, as the pre-flight check needs it: its NVIDIA GPUs and
CPU cores. Read by NVML (`integrations.nvml.this_machine`), or made up by tests."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Machine:
    gpus: tuple[str, ...] = ()  # NVIDIA GPU names, as NVML reports them
    cpu_cores: int = 1

    @property
    def has_cuda(self) -> bool:
        return bool(self.gpus)
