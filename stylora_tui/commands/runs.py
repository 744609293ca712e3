"""`stylora-tui runs [--json]`."""

from __future__ import annotations

from stylora_tui.commands.output import console, print_json
from stylora_tui.core.rundir import list_runs, runs_root

STATUS_STYLE = {
    "running": "bold green",
    "finished": "cyan",
    "stopped": "yellow",
    "crashed": "bold red",
    "failed": "red",
    "new": "dim",
}


def run(args) -> int:
    root = runs_root(args.runs_dir)
    runs = list_runs(root)
    if args.json:
        print_json([r.to_json() for r in runs])
        return 0
    out = console()
    if not runs:
        out.print(f"No runs in {root}. Start one with `stylora-tui` (the wizard) or `stylora-tui train`.")
        return 0
    from rich.table import Table

    table = Table(title=f"runs in {root}", title_justify="left")
    for column in ("name", "status", "step", "pid", "outputs"):
        table.add_column(column, justify="right" if column in ("step", "pid") else "left")
    for r in runs:
        step = f"{r.step}/{r.total_steps}" if r.total_steps else str(r.step or "")
        if r.status in ("stopped", "crashed", "failed", "new") and r.checkpoint_step is not None:
            step += f" (resumes at {r.checkpoint_step})"
        elif r.status in ("stopped", "crashed") and r.checkpoint_step is None:
            step += " (no checkpoint: resumes at 0)"
        status = f"[{STATUS_STYLE.get(r.status, '')}]{r.status}[/]"
        latest = r.outputs[-1] if r.outputs else ""
        more = f" (+{len(r.outputs) - 1})" if len(r.outputs) > 1 else ""
        table.add_row(r.name, status, step, str(r.pid or ""), latest + more)
    out.print(table)
    resumable = [r.name for r in runs if r.status in ("stopped", "crashed")]
    if resumable:
        out.print(f"Resume with `stylora-tui --resume {resumable[0]}`.")
    return 0
