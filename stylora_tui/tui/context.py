"""What every wizard step is handed when it opens: the state so far (the user's choices, the
dataset's report) and what it may use (the services, the tokenizers, the machine)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from stylora_tui.config.wizard import WizardState
from stylora_tui.dataset.doctor import DoctorReport
from stylora_tui.integrations.machine import Machine
from stylora_tui.tui.services import Services


@dataclass(frozen=True)
class StepContext:
    wizard: WizardState
    report: DoctorReport | None
    services: Services
    # Both CLIP tokenizers, loaded once by the app on first use (call from a worker thread).
    tokenizers: Callable[[], tuple]
    # Where a run would train (GPUs by NVML), read once by the app.
    machine: Callable[[], Machine]
