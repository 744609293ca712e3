"""`stylora-tui queue RUN [RUN...]`: train prepared runs one after another (or one per GPU)."""

from __future__ import annotations

from stylora_tui.launch.queue import start_queue
from stylora_tui.run.catalog import locate_run
from stylora_tui.views.console import console, safe
from stylora_tui.views.invocation import command, resume_command


def run(args) -> int:
    from stylora_tui.integrations.nvml import this_machine

    runs = [locate_run(name, args.runs_dir) for name in dict.fromkeys(args.runs)]
    roots = {r.path.parent for r in runs}
    if len(roots) > 1:
        from stylora_tui.errors import RunError

        raise RunError("a queue's runs must be in one runs folder", "move them into one, or queue each folder's runs")
    gpus = len(this_machine().gpus)
    pid = start_queue(roots.pop(), runs, gpus)
    out = console()
    how = f"one per GPU on {gpus} GPUs" if gpus > 1 else "one after another"
    out.print(f"queued {', '.join(safe(r.name) for r in runs)} ({how}; runner pid {pid}): it goes on without this terminal")
    out.print(f"watch with `{safe(command('runs'))}`, or one of them with `{safe(resume_command(runs[0]))}`")
    return 0
