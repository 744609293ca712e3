"""`stylora-tui check DATASET [--family F] [--trigger T] [--preset P] [--json]`."""

from __future__ import annotations

import sys
from pathlib import Path

from stylora_tui.config.presets import preset_for
from stylora_tui.dataset.doctor import examine
from stylora_tui.dataset.scan import scan_dataset
from stylora_tui.views.console import console, print_json
from stylora_tui.views.report import render_report


def run(args) -> int:
    edits = {"captions": {"trigger": args.trigger}} if args.trigger else None
    config = preset_for(args.family, args.preset, edits)
    from stylora_tui.integrations.clip_tokenizer import load_shipped

    dataset = Path(args.dataset)
    if args.json or not sys.stderr.isatty():
        scan = scan_dataset(dataset, config.dataset.caption_extension, config.dataset.repeats)
    else:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        with Progress(
            "checking images",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console(stderr=True),
            transient=True,
        ) as bar:
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
        render_report(report)
    return 1 if report.has_errors else 0
