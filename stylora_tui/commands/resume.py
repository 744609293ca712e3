"""`stylora-tui --resume RUN [--from MIRROR] [--dataset DIR] [--model PATH]`: attach to a
live run, restart a stopped one (restored from its mirror first with --from), or summarise.

In a terminal it opens the monitor (which offers the restart); with --headless, or
without a terminal, the Rich view follows the run to its end."""

from __future__ import annotations

import sys

from stylora_tui.display import printable
from stylora_tui.errors import RunError
from stylora_tui.launch.restore import relocate, restore
from stylora_tui.launch.resume import restart
from stylora_tui.run.catalog import locate_run
from stylora_tui.run.event_log import EventTailer
from stylora_tui.run.layout import runs_root
from stylora_tui.run.status import FAILED, FINISHED, NEW, RUNNING
from stylora_tui.run.summary import run_status
from stylora_tui.views.console import console, safe
from stylora_tui.views.headless import follow


def run(args) -> int:
    if args.from_mirror:
        root = runs_root(args.runs_dir)
        target = restore(args.resume, args.from_mirror, root, args.resume_dataset, args.resume_model)
        console().print(f"restored {safe(target.name)} from {safe(args.from_mirror)} into {safe(root)}")
    else:
        target = locate_run(args.resume, args.runs_dir)
        if args.resume_dataset or args.resume_model:
            if run_status(target).status == RUNNING:
                raise RunError(f"run {target.name!r} is running", "--dataset and --model change where a stopped run reads from")
            relocate(target, args.resume_dataset, args.resume_model)
    if args.interactive:
        from stylora_tui.tui.app import StyloraApp, default_services

        message = StyloraApp(default_services(runs_root(args.runs_dir)), monitor=target).run()
        if message:
            sys.stdout.write(message + "\n")
        return 0
    summary = run_status(target)
    out = console()
    if summary.status == FINISHED:
        out.print(f"[green]{target.name} finished[/] at step {summary.step}; outputs in {safe(target.output)}:")
        for name in summary.outputs:
            out.print(f"  {printable(name)}", markup=False)
        return 0
    if summary.status == RUNNING:
        out.print(f"attaching to {target.name} (pid {summary.pid}); Ctrl-C stops it cleanly, twice detaches")
    else:
        if not target.config.is_file():
            raise RunError(
                f"run {target.name!r} was never configured", "start a new run with `stylora-tui` or `stylora-tui train`"
            )
        why = {NEW: "never started", FAILED: f"failed ({safe(summary.reason)})"}.get(summary.status, summary.status)
        session_from = EventTailer(target.events).end_offset()
        launched = restart(target)
        out.print(f"resuming {target.name} ({why}) from its last complete checkpoint (pid {launched.pid})")
        state = follow(target, session_from=session_from, launched=launched)
        return 1 if state.phase == FAILED else 0
    state = follow(target)
    return 1 if state.phase == FAILED else 0
