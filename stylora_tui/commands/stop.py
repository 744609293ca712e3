"""`stylora-tui stop RUN`: ask the trainer to save and stop at the next step."""

from __future__ import annotations

from stylora_tui.errors import RunError
from stylora_tui.launch.queue import keep_machine
from stylora_tui.run import control
from stylora_tui.run.catalog import locate_run
from stylora_tui.run.status import FINISHED, RUNNING
from stylora_tui.run.summary import run_status
from stylora_tui.views.console import console
from stylora_tui.views.headless import follow
from stylora_tui.views.invocation import resume_command


def run(args) -> int:
    target = locate_run(args.run, args.runs_dir)
    status = run_status(target).status
    if args.keep_machine:
        # Whatever the run's state: a countdown runs after the run (or its queue) has ended.
        console().print(keep_machine(target))
        return 0
    if status == FINISHED:
        raise RunError(f"run {target.name!r} has finished: there is nothing to stop", f"its adapters are in {target.output}")
    if status != RUNNING:
        raise RunError(
            f"run {target.name!r} is not running (it is {status})",
            f"`{resume_command(target)}` continues it from its newest checkpoint",
        )
    control.request(target, control.STOP)
    console().print(f"stop requested for {target.name}: the trainer saves a checkpoint at the next step and stops")
    if args.wait:
        follow(target, stop_on_interrupt=False)
    return 0
