"""`stylora-tui compare RUN -o sheet.png [--best EPOCH]`."""

from __future__ import annotations

from pathlib import Path

from stylora_tui.choose.samples import choose_best, comparison_sheet, epoch_samples
from stylora_tui.run.catalog import locate_run
from stylora_tui.views.console import console, safe


def run(args) -> int:
    target = locate_run(args.run, args.runs_dir)
    out = console()
    if args.output:
        sheet = comparison_sheet(target)
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        sheet.save(args.output)
        rows = [s for s in epoch_samples(target) if s.images]
        out.print(f"wrote {safe(args.output)}: {len(rows)} epochs x {max(len(r.images) for r in rows)} prompts")
        for samples in rows:
            if samples.validation_loss is not None:
                out.print(f"  epoch {samples.epoch}: validation loss {samples.validation_loss:.4f}")
    if args.best is not None:
        path = choose_best(target, args.best)
        out.print(f"epoch {args.best} chosen: {safe(path)}")
    return 0
