"""`stylora-tui resize IN -o OUT (--rank N | --fro P)`."""

from __future__ import annotations

from pathlib import Path

from stylora_tui.views.console import console


def run(args) -> int:
    from stylora_tui.trainer.resize import resize_file

    result = resize_file(Path(args.input), Path(args.output), args.rank, args.fro, force=args.force)
    out = console()
    from rich.table import Table

    if args.verbose:
        table = Table(show_edge=False)
        for column in ("module", "rank", "kept ||W||"):
            table.add_column(column, justify="left" if column == "module" else "right")
        for m in result.modules:
            table.add_row(m.key, f"{m.old_rank} → {m.new_rank}", "all zero" if m.all_zero else f"{m.retained_fro:.1%}")
        out.print(table)
    ranks = sorted({m.new_rank for m in result.modules})
    rank_text = str(ranks[0]) if len(ranks) == 1 else f"{ranks[0]}-{ranks[-1]} (dynamic)"
    out.print(f"{len(result.modules)} modules resized to rank {rank_text}")
    measured = [m for m in result.modules if not m.all_zero]
    if measured:
        kept = [m.retained_fro or 0.0 for m in measured]
        worst = min(measured, key=lambda m: m.retained_fro or 0.0)
        out.print(
            f"Frobenius norm kept per module: mean {sum(kept) / len(kept):.1%}, lowest {worst.retained_fro:.1%} ({worst.key})"
        )
    zero = len(result.modules) - len(measured)
    if zero:
        out.print(f"{zero} module(s) are all zero (nothing learned, nothing to keep): they stay zero")
    out.print(f"size {result.bytes_before / 2**20:.1f} MiB → {result.bytes_after / 2**20:.1f} MiB: {result.output}")
    return 0
