"""The trainer's GPU sampler thread: NVML readings into `gpu.sample` events.

Written by the trainer (not the viewer) so a viewer that attaches later sees history.
"""

from __future__ import annotations

import threading

from stylora_tui.integrations.nvml import NvmlSampler
from stylora_tui.run import events as ev
from stylora_tui.trainer.seams import Reporter


class GpuTelemetry:
    def __init__(self, reporter: Reporter, every_s: float) -> None:
        self.reporter = reporter
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gpu-telemetry", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        sampler = NvmlSampler()
        try:
            if not sampler.available:
                self.reporter.emit(ev.GpuSample(error=sampler.error))
                return
            while not self._stop.is_set():
                self.reporter.emit(ev.GpuSample(gpus=tuple(r.to_json() for r in sampler.sample())))
                self._stop.wait(self.every_s)
        finally:
            sampler.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
