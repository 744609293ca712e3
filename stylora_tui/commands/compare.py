"""`stylora-tui compare RUN -o sheet.png [--best EPOCH]`."""

from __future__ import annotations

from pathlib import Path

from stylora_tui.commands.output import console
from stylora_tui.core.rundir import existing_run, runs_root
from stylora_tui.core.samples import choose_best, comparison_sheet, epoch_samples


def run(args) -> int:
    target = existing_run(runs_root(args.runs_dir), args.run)
    out = console()
    if args.output:
        sheet = comparison_sheet(target)
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        sheet.save(args.output)
        rows = [s for s in epoch_samples(target) if s.images]
        out.print(f"wrote {args.output}: {len(rows)} epochs x {max(len(r.images) for r in rows)} prompts")
        for samples in rows:
            if samples.validation_loss is not None:
                out.print(f"  epoch {samples.epoch}: validation loss {samples.validation_loss:.4f}")
    if args.best is not None:
        path = choose_best(target, args.best)
        out.print(f"epoch {args.best} chosen: {path}")
    return 0
