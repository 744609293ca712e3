"""`stylora-tui` and `stylora-tui --demo` in a terminal: the wizard."""

from __future__ import annotations

import sys

from stylora_tui.config.wizard import WizardState, demo_state
from stylora_tui.run.layout import runs_root


def run(args) -> int:
    from stylora_tui.tui.app import StyloraApp, default_services

    app = StyloraApp(default_services(runs_root(args.runs_dir)), demo_state() if args.demo else WizardState())
    message = app.run()
    if message:
        sys.stdout.write(message + "\n")
    return 0
