"""`stylora-tui check DATASET [--family F] [--trigger T] [--preset P] [--json]`."""

from __future__ import annotations

import sys
from pathlib import Path

from stylora_tui.config.presets import preset_for
from stylora_tui.dataset.buckets import aspect_label
from stylora_tui.dataset.doctor import DoctorReport, examine
from stylora_tui.dataset.scan import scan_dataset
from stylora_tui.display import printable
from stylora_tui.findings import Severity
from stylora_tui.views.console import console, print_json, safe

SEVERITY_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "dim"}
FILES_SHOWN = 5


def run(args) -> int:
    edits = {"captions": {"trigger": args.trigger}} if args.trigger else None
    config = preset_for(args.family, args.preset, edits)
    from stylora_tui.integrations.clip_tokenizer import load_shipped

    dataset = Path(args.dataset)
    if args.json or not sys.stderr.isatty():
        scan = scan_dataset(dataset, config.dataset.caption_extension, config.dataset.repeats)
    else:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        with Progress("checking images", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=console(stderr=True), transient=True) as bar:
            task = bar.add_task("scan", total=None)
            scan = scan_dataset(
                dataset,
                config.dataset.caption_extension,
                config.dataset.repeats,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    report = examine(scan, config, load_shipped())
    if args.json:
        print_json(report.to_json())
    else:
        render(report, config)
    return 1 if report.has_errors else 0


def render(report: DoctorReport, config) -> None:
    from rich.table import Table

    out = console()
    scan, steps = report.scan, report.steps
    out.print(f"[bold]{safe(scan.root)}[/]: {len(scan.images)} images, {len(scan.usable)} usable")
    table = Table(title="buckets", title_justify="left", show_edge=False)
    for column in ("bucket", "ratio", "images", "x repeats", "steps/epoch", ""):
        table.add_column(column, justify="right" if column not in ("bucket", "") else "left")
    widest = max((b.count for b in steps.buckets), default=1)
    for b in steps.buckets:
        bar = "█" * max(1, round(20 * b.count / widest))
        table.add_row(f"{b.width}x{b.height}", aspect_label(b.width, b.height), str(b.count), str(b.samples), str(b.steps), bar)
    out.print(table)
    out.print(
        f"{steps.steps_per_epoch} steps/epoch (batch {steps.batch_size}) x {steps.epochs} epochs = "
        f"[bold]{steps.total_steps} steps[/]"
    )
    groups: dict[tuple, list] = {}
    for finding in report.findings:
        groups.setdefault((finding.severity, finding.code), []).append(finding)
    for (severity, code), findings in groups.items():
        style = SEVERITY_STYLE[severity]
        out.print(f"\n[{style}]{severity.value}[/] [bold]{code}[/] ({len(findings)})")
        for finding in findings[:FILES_SHOWN]:
            where = f"{finding.path}: " if finding.path else ""
            out.print(f"  {printable(where)}{printable(finding.message)}", markup=False)
        if len(findings) > FILES_SHOWN:
            out.print(f"  ... and {len(findings) - FILES_SHOWN} more (--json lists all)")
        out.print(f"  [dim]hint: {safe(findings[0].hint)}[/]")
    errors = sum(1 for f in report.findings if f.severity is Severity.ERROR)
    warnings = sum(1 for f in report.findings if f.severity is Severity.WARNING)
    verdict = "[bold red]fix the errors before training[/]" if errors else "[green]ready to train[/]"
    out.print(f"\n{errors} error(s), {warnings} warning(s): {verdict}")
