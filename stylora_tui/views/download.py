"""A hub download on the terminal: a Rich progress bar on stderr (stdout stays clean for
--json), plain start and end lines where stderr is not a terminal (a log file)."""

from __future__ import annotations

import time
from pathlib import Path

from stylora_tui.integrations import hub
from stylora_tui.views.console import console, safe


def fetch(ref: hub.HubRef) -> Path:
    found = hub.cached(ref)
    if found is not None:
        return found
    err = console(stderr=True)
    name = f"{ref.repo}/{ref.file}" if ref.file else ref.repo
    if not err.is_terminal:
        err.print(f"downloading {safe(name)} from the hub...")
        started = time.monotonic()
        path = hub.fetch(ref)
        err.print(f"downloaded {safe(name)} in {time.monotonic() - started:.0f} s → {safe(path)}")
        return path
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=False) as progress:
        task = progress.add_task(safe(name), total=None)

        def show(what: str, done: int, total: int) -> None:
            progress.update(task, description=safe(what), completed=done, total=total or None)

        try:
            path = hub.fetch(ref, show)
        except KeyboardInterrupt:
            err.print("download interrupted: run the same command again to continue where it stopped")
            raise
    err.print(f"[green]ready[/] {safe(path)}")
    return path
