from __future__ import annotations

import sys
import types

from stylora_tui.integrations.nvml import NO_GPU, NvmlSampler
from stylora_tui.views.gpu import gpu_line


def test_no_driver_is_a_state_not_an_exception(monkeypatch):
    fake = types.ModuleType("pynvml")

    class NVMLError(Exception):
        pass

    def init():
        raise NVMLError("Driver Not Loaded")

    fake.nvmlInit = init
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    sampler = NvmlSampler()
    assert not sampler.available and sampler.error.startswith(NO_GPU) and sampler.sample() == []
    sampler.close()


def test_each_reading_is_optional(monkeypatch):
    fake = types.ModuleType("pynvml")

    class NVMLError(Exception):
        pass

    def unsupported(*_args):
        raise NVMLError("Not Supported")

    fake.NVML_TEMPERATURE_GPU, fake.NVML_CLOCK_SM, fake.NVML_CLOCK_MEM = 0, 1, 2
    fake.nvmlInit = lambda: None
    fake.nvmlShutdown = lambda: None
    fake.nvmlDeviceGetCount = lambda: 1
    fake.nvmlDeviceGetHandleByIndex = lambda i: object()
    fake.nvmlDeviceGetName = lambda h: b"Tesla T4"
    fake.nvmlDeviceGetMemoryInfo = lambda h: types.SimpleNamespace(used=2 * 2**30, total=16 * 2**30)
    fake.nvmlDeviceGetUtilizationRates = unsupported
    fake.nvmlDeviceGetTemperature = lambda h, kind: 55
    fake.nvmlDeviceGetPowerUsage = unsupported
    fake.nvmlDeviceGetEnforcedPowerLimit = unsupported
    fake.nvmlDeviceGetClockInfo = unsupported
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    sampler = NvmlSampler()
    (reading,) = sampler.sample()
    assert reading.name == "Tesla T4" and reading.memory_used_mib == 2048 and reading.temperature_c == 55
    assert reading.utilization_pct is None and reading.power_w is None
    assert gpu_line(reading.to_json(), "") == "Tesla T4 · VRAM 2.0/16.0 GiB · 55°C"


def test_this_machine_reports_no_gpu_cleanly():
    sampler = NvmlSampler()
    if not sampler.available:
        assert sampler.error.startswith(NO_GPU)
    sampler.close()
