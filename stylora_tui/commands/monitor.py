"""`stylora-tui --resume RUN` in a terminal: the monitor (with a resume offer if stopped)."""

from __future__ import annotations

import sys

from stylora_tui.run.layout import locate_run, runs_root


def run(args) -> int:
    from stylora_tui.tui.app import StyloraApp, default_services

    target = locate_run(args.resume, args.runs_dir)
    message = StyloraApp(default_services(runs_root(args.runs_dir)), monitor=target).run()
    if message:
        sys.stdout.write(message + "\n")
    return 0
