"""The machine a run would train on, as the pre-flight check needs it: its NVIDIA GPUs and
CPU cores. Read by NVML (`integrations.nvml.this_machine`), or made up by tests."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Machine:
    gpus: tuple[str, ...] = ()  # NVIDIA GPU names, as NVML reports them
    cpu_cores: int = 1
    gpu_memory_mib: tuple[float | None, ...] = ()  # per GPU, where NVML could read it

    @property
    def has_cuda(self) -> bool:
        return bool(self.gpus)

    @property
    def first_gpu_gib(self) -> float | None:
        """The first GPU's memory in GiB, the one a single-GPU run trains on."""
        mib = self.gpu_memory_mib[0] if self.gpu_memory_mib else None
        return mib / 1024 if mib else None
