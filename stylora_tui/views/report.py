"""The dataset doctor's report on the terminal: counts, the bucket chart, the findings (a
few files each) and the verdict. `check` and the headless demo print it."""

from __future__ import annotations

from stylora_tui.dataset.doctor import DoctorReport
from stylora_tui.findings import Severity
from stylora_tui.views.buckets import bucket_text
from stylora_tui.views.console import console, safe
from stylora_tui.views.findings import findings_text

FILES_SHOWN = 5


def render_report(report: DoctorReport) -> None:
    out = console()
    scan = report.scan
    out.print(f"[bold]{safe(scan.root)}[/]: {len(scan.images)} images, {len(scan.usable)} usable")
    out.print(bucket_text(report.steps, width=20, limit=len(report.steps.buckets)))
    out.print()
    out.print(findings_text(report.findings, shown=FILES_SHOWN, more=" (--json lists all)"))
    errors = sum(1 for f in report.findings if f.severity is Severity.ERROR)
    warnings = sum(1 for f in report.findings if f.severity is Severity.WARNING)
    verdict = "[bold red]fix the errors before training[/]" if errors else "[green]ready to train[/]"
    out.print(f"{errors} error(s), {warnings} warning(s): {verdict}")
