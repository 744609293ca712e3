"""`stylora-tui runs [--json]`."""

from __future__ import annotations

from pathlib import Path

from stylora_tui.run.catalog import search_roots
from stylora_tui.run.layout import RunDir
from stylora_tui.run.summary import list_runs
from stylora_tui.views.console import console, print_json, safe
from stylora_tui.views.invocation import resume_command

STATUS_STYLE = {
    "running": "bold green",
    "finished": "cyan",
    "stopped": "yellow",
    "crashed": "bold red",
    "failed": "red",
    "new": "dim",
}


def run(args) -> int:
    roots = search_roots(args.runs_dir)
    runs = [r for root in roots for r in list_runs(root)]
    if args.json:
        print_json([r.to_json() for r in runs])
        return 0
    out = console()
    if not runs:
        looked = ", ".join(safe(r) for r in roots)
        out.print(f"No runs in {looked}. Start one with `stylora-tui` (the wizard) or `stylora-tui train`.")
        return 0
    from rich.table import Table

    for root in roots:
        here = [r for r in runs if r.root == str(root)]
        if not here:
            continue
        table = Table(title=f"runs in {safe(root)}", title_justify="left")
        for column in ("name", "status", "step", "pid", "outputs", "suggested", "note"):
            table.add_column(column, justify="right" if column in ("step", "pid") else "left")
        for r in here:
            table.add_row(
                r.name,
                f"[{STATUS_STYLE.get(r.status, '')}]{r.status}[/]",
                _step(r),
                str(r.pid or ""),
                _outputs(r),
                safe(r.suggested.short) if r.suggested else "",
                _note(r),
            )
        out.print(table)
    resumable = [r for r in runs if r.status in ("stopped", "crashed", "failed")]
    if resumable:
        latest = resumable[-1]
        out.print(f"Resume with `{safe(resume_command(RunDir(Path(latest.root) / latest.name)))}`.")
    return 0


def _step(r) -> str:
    step = f"{r.step}/{r.total_steps}" if r.total_steps else str(r.step or "")
    if r.status in ("stopped", "crashed", "failed", "new") and r.checkpoint_step is not None:
        step += f" (resumes at {r.checkpoint_step})"
    elif r.status in ("stopped", "crashed") and r.checkpoint_step is None:
        step += " (no checkpoint: resumes at 0)"
    return step


def _outputs(r) -> str:
    latest = safe(r.outputs[-1]) if r.outputs else ""
    return latest + (f" (+{len(r.outputs) - 1})" if len(r.outputs) > 1 else "")


def _note(r) -> str:
    if r.status == "failed" and r.reason:
        return f"[red]{safe(r.reason)}[/]"
    if r.checkpoint_error:
        return f"[bold red]{safe(r.checkpoint_error)}[/]"
    return ""
