"""GPU telemetry through NVML (nvidia-ml-py, import name `pynvml`).

Every NVML call can fail (no driver, no GPU, NotSupported on this board): each reading
is optional, and no GPU at all is a state ("no NVIDIA GPU found"), never an exception.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

NO_GPU = "no NVIDIA GPU found"


@dataclass(frozen=True)
class GpuReading:
    index: int
    name: str | None = None
    utilization_pct: int | None = None
    memory_used_mib: float | None = None
    memory_total_mib: float | None = None
    temperature_c: int | None = None
    power_w: float | None = None
    power_limit_w: float | None = None
    sm_clock_mhz: int | None = None
    memory_clock_mhz: int | None = None

    def to_json(self) -> dict:
        return asdict(self)


def _try(call, *args, scale: float = 1.0):
    try:
        value = call(*args)
    except Exception:  # pynvml.NVMLError and its many subclasses, or a missing symbol
        return None
    return value * scale if scale != 1.0 else value


class NvmlSampler:
    """Reads every GPU once per `sample()`; `error` says why there are none."""

    def __init__(self) -> None:
        self.error = ""
        self._handles: list = []
        try:
            import pynvml

            pynvml.nvmlInit()
            self._nvml = pynvml
            count = pynvml.nvmlDeviceGetCount()
            self._handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        except Exception as exc:  # no library, no driver, no device
            self._nvml = None
            self.error = (
                NO_GPU if "NVML" in type(exc).__name__ or isinstance(exc, (ImportError, OSError)) else f"{NO_GPU} ({exc})"
            )
        if self._nvml is not None and not self._handles:
            self.error = NO_GPU

    @property
    def available(self) -> bool:
        return bool(self._handles)

    def sample(self) -> list[GpuReading]:
        nv = self._nvml
        readings = []
        for index, handle in enumerate(self._handles):
            name = _try(nv.nvmlDeviceGetName, handle)
            util = _try(nv.nvmlDeviceGetUtilizationRates, handle)
            memory = _try(nv.nvmlDeviceGetMemoryInfo, handle)
            readings.append(
                GpuReading(
                    index=index,
                    name=name.decode() if isinstance(name, bytes) else name,
                    utilization_pct=getattr(util, "gpu", None),
                    memory_used_mib=memory.used / 2**20 if memory else None,
                    memory_total_mib=memory.total / 2**20 if memory else None,
                    temperature_c=_try(nv.nvmlDeviceGetTemperature, handle, nv.NVML_TEMPERATURE_GPU),
                    power_w=_try(nv.nvmlDeviceGetPowerUsage, handle, scale=0.001),
                    power_limit_w=_try(nv.nvmlDeviceGetEnforcedPowerLimit, handle, scale=0.001),
                    sm_clock_mhz=_try(nv.nvmlDeviceGetClockInfo, handle, nv.NVML_CLOCK_SM),
                    memory_clock_mhz=_try(nv.nvmlDeviceGetClockInfo, handle, nv.NVML_CLOCK_MEM),
                )
            )
        return readings

    def close(self) -> None:
        if self._nvml is not None:
            _try(self._nvml.nvmlShutdown)


def this_machine():
    """This machine for the pre-flight check: its NVIDIA GPUs (by NVML) and CPU cores."""
    import os

    from stylora_tui.integrations.machine import Machine

    sampler = NvmlSampler()
    try:
        readings = sampler.sample() if sampler.available else []
    finally:
        sampler.close()
    return Machine(
        tuple(r.name or "NVIDIA GPU" for r in readings), os.cpu_count() or 1, tuple(r.memory_total_mib for r in readings)
    )
