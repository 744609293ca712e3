"""Start the trainer as its own detached process.

Its own session (`start_new_session=True`): a hang-up of the terminal that started it
never reaches it. stdin from /dev/null, output to logs/trainer.log. The parent never
touches CUDA (it never imports torch), so nothing of a CUDA context is inherited.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field

from stylora_tui.run.layout import RunDir


@dataclass(frozen=True)
class Launched:
    pid: int
    log: str
    process: subprocess.Popen | None = field(default=None, compare=False, repr=False)

    def exit_code(self) -> int | None:
        """The trainer's exit code once it has ended (the launching process can tell at once,
        with no wait for a start-up grace), else None."""
        return self.process.poll() if self.process is not None else None


# Set for a trainer started in a process group of its own, which its watchdog may end whole.
OWN_GROUP_ENV = "STYLORA_OWN_PROCESS_GROUP"


class TrainerLauncher:
    """Launches `python -m stylora_tui.trainer RUN_DIR`; tests may pass another module."""

    def __init__(self, module: str = "stylora_tui.trainer", python: str | None = None, extra_env: dict | None = None) -> None:
        self.module = module
        self.python = python or sys.executable
        self.extra_env = extra_env or {}  # the queue's: the GPUs a run is pinned to

    def command(self, run: RunDir, processes: int) -> list[str]:
        if processes <= 1:
            return [self.python, "-m", self.module, str(run.path)]
        # Several GPUs: accelerate starts one trainer per GPU; rank 0 holds the run's lock
        # and writes its events, status and files.
        return [
            self.python,
            "-m",
            "accelerate.commands.launch",
            "--multi_gpu",
            "--num_processes",
            str(processes),
            "--num_machines",
            "1",
            "--dynamo_backend",
            "no",
            "--mixed_precision",
            "no",
            "-m",
            self.module,
            str(run.path),
        ]

    def launch(self, run: RunDir, processes: int = 1) -> Launched:
        run.logs.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.extra_env, "PYTHONUNBUFFERED": "1", OWN_GROUP_ENV: "1"}
        with open(run.trainer_log, "ab") as log, open(os.devnull, "rb") as devnull:
            process = subprocess.Popen(
                self.command(run, processes),
                stdin=devnull,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
                env=env,
                cwd=str(run.path),
            )
        return Launched(process.pid, str(run.trainer_log), process)
