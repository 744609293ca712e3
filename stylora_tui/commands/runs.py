"""`stylora-tui runs [--json]`."""

from __future__ import annotations

from pathlib import Path

from stylora_tui.choose.samples import chosen_epoch
from stylora_tui.rental.meter import money
from stylora_tui.rental.take_home import address_note, take_home
from stylora_tui.run.catalog import locate_run, search_roots
from stylora_tui.run.layout import RunDir
from stylora_tui.run.summary import RunSummary, list_runs, run_status
from stylora_tui.views.console import console, print_json, safe
from stylora_tui.views.invocation import command, resume_command
from stylora_tui.views.rental import cost, mirror_state_line

STATUS_STYLE = {
    "running": "bold green",
    "stalled": "bold red",
    "finished": "cyan",
    "stopped": "yellow",
    "crashed": "bold red",
    "failed": "red",
    "new": "dim",
}


def run(args) -> int:
    if args.name:
        return one(args)
    roots = search_roots(args.runs_dir)
    runs = [r for root in roots for r in list_runs(root)]
    if args.json:
        print_json([as_json(r) for r in runs])
        return 0
    out = console()
    if not runs:
        looked = ", ".join(safe(r) for r in roots)
        out.print(f"No runs in {looked}. Start one with `{safe(command())}` (the wizard) or `{safe(command('train'))}`.")
        return 0
    from rich.table import Table

    for root in roots:
        here = [r for r in runs if r.root == str(root)]
        if not here:
            continue
        table = Table(title=f"runs in {safe(root)}", title_justify="left")
        # Columns only some runs fill are left out where none does: 80 columns are few.
        optional = {"suggested": any(r.suggested for r in here), "cost": any(r.price_per_hour for r in here)}
        columns = [c for c in ("name", "status", "step", "pid", "outputs", "suggested", "cost", "note") if optional.get(c, True)]
        for column in columns:
            table.add_column(column, justify="right" if column in ("step", "pid", "cost") else "left")
        for r in here:
            cells = {
                "name": r.name,
                "status": f"[{STATUS_STYLE.get(r.status, '')}]{r.status}[/]",
                "step": _step(r),
                "pid": str(r.pid or ""),
                "outputs": _outputs(r),
                "suggested": safe(r.suggested.short) if r.suggested else "",
                "cost": _cost(r),
                "note": _note(r),
            }
            table.add_row(*(cells[c] for c in columns))
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
    if r.mirror is not None and r.mirror.error:
        return f"[bold red]{safe(mirror_state_line(r.mirror))}[/]"
    return ""


def _cost(r: RunSummary) -> str:
    found = cost(r.price_per_hour, r.elapsed_s, r.eta_s)
    return money(found.so_far) if found else ""


def as_json(r: RunSummary) -> dict:
    found = cost(r.price_per_hour, r.elapsed_s, r.eta_s)
    return {**r.to_json(), "cost": found.to_json() if found else None}


def one(args) -> int:
    """`runs NAME`: one run in full."""
    target = locate_run(args.name, args.runs_dir)
    summary = run_status(target)
    home = take_home(target.output)
    chosen = chosen_epoch(target)
    picked = {"epoch": chosen[0], "source": chosen[1], "adapter": f"{target.name}-best.safetensors"} if chosen else None
    if args.json:
        print_json({**as_json(summary), "chosen": picked, "take_home": home, "take_home_note": address_note() if home else ""})
        return 0
    out = console()
    out.print(
        f"[bold]{safe(summary.name)}[/] · [{STATUS_STYLE.get(summary.status, '')}]{summary.status}[/] · step {_step(summary)}"
    )
    out.print(f"folder: {safe(target.path)}")
    for name in summary.outputs:
        out.print(f"  output/{safe(name)}")
    if summary.suggested is not None:
        out.print(
            f"suggested: {safe(summary.suggested.adapter)} at {summary.suggested.strength:g} ({safe(summary.suggested.why)})"
        )
    if picked is not None:
        out.print(f"chosen: e{picked['epoch']} ({safe(picked['source'])}) as output/{safe(picked['adapter'])}")
    if summary.mirror is not None:
        out.print(safe(mirror_state_line(summary.mirror)))
    found = cost(summary.price_per_hour, summary.elapsed_s, summary.eta_s)
    if found is not None:
        out.print(f"cost: {found.line()}")
    if summary.reason:
        out.print(f"[red]{safe(summary.reason)}[/]")
    if home:
        out.print("take the outputs home (on your own computer):")
        for command in home:
            out.print(f"  {safe(command)}")
        if note := address_note():
            out.print(f"  note: {safe(note)}")
    return 0
