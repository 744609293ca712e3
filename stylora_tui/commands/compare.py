"""`stylora-tui compare RUN [RUN...] [-o sheet.png] [--best [EPOCH]] [--json]`."""

from __future__ import annotations

from pathlib import Path

from stylora_tui.choose.compare import Comparison, compare_runs
from stylora_tui.choose.samples import choose_best
from stylora_tui.choose.sheet import comparison_sheet, is_suggested
from stylora_tui.errors import RunError
from stylora_tui.run.catalog import locate_run
from stylora_tui.views.console import console, print_json, safe

SUGGESTED = 0  # `--best` with no epoch: the suggested one


def run(args) -> int:
    runs = [locate_run(name, args.runs_dir) for name in dict.fromkeys(args.run)]
    if args.best is not None and args.best != SUGGESTED and len(runs) > 1:
        raise RunError(
            "--best EPOCH names an epoch of one run", "give one RUN with --best EPOCH, or --best alone for the suggested one"
        )
    comparison = compare_runs(runs, args.style_model)
    if args.output:
        title = " + ".join(r.name for r in runs)
        sheet = comparison_sheet(title, list(comparison.judged), comparison.suggestion)
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        sheet.save(args.output)
    chosen = choose(comparison, args.best) if args.best is not None else None
    if args.json:
        print_json(comparison.to_json())
        return 0
    show(comparison)
    out = console()
    if args.output:
        out.print(f"wrote {safe(args.output)}")
    if chosen is not None:
        out.print(chosen)
    return 0


def choose(comparison: Comparison, epoch: int) -> str:
    suggestion = comparison.suggestion
    if epoch == SUGGESTED:
        if suggestion is None:
            raise RunError(
                "no epoch can be suggested: " + _why_none(comparison),
                "look at the sheet (-o sheet.png) and choose one with --best EPOCH",
            )
        path = choose_best(comparison.run(suggestion.run), suggestion.epoch, suggestion.strength)
        return f"e{suggestion.epoch} chosen (suggested): {safe(path)}; use it at <lora:{safe(path.stem)}:{suggestion.strength:g}>"
    path = choose_best(comparison.runs[0], epoch)
    return f"epoch {epoch} chosen: {safe(path)}"


def _why_none(comparison: Comparison) -> str:
    saved = [j for j in comparison.judged if j.adapter]
    if not saved:
        return "no saved epoch has previews yet"
    return "every saved epoch's previews copy a training image"


def show(comparison: Comparison) -> None:
    from rich.table import Table

    several = len(comparison.runs) > 1
    table = Table(title_justify="left", title=" + ".join(safe(r.name) for r in comparison.runs))
    for column in (*(("run",) if several else ()), "epoch", "strength", "val loss", "style", "copies", "adapter"):
        table.add_column(column, justify="right" if column in ("epoch", "strength", "val loss", "style") else "left")
    for judged in comparison.judged:
        loss = judged.samples.validation_loss
        copies = ", ".join(sorted({Path(c.training_image).name for c in judged.copies}))
        row = [
            str(judged.epoch),
            f"{judged.strength:g}",
            f"{loss:.4f}" if loss is not None else "",
            f"{judged.style_score:.3f}" if judged.style_score is not None else "",
            # "none": the alarm looked and found nothing; empty: it could not look (said below).
            f"[red]{safe(copies)}[/]" if copies else ("" if judged.copies_unavailable else "[dim]none[/]"),
            safe(judged.adapter or "(not saved)")
            + (" [green]◀ suggested[/]" if is_suggested(judged, comparison.suggestion) else ""),
        ]
        table.add_row(*([safe(judged.run)] if several else []), *row)
    out = console()
    if not comparison.judged:
        out.print("No previews of a saved epoch yet: they are rendered at each save (samples.every_n_epochs).")
        return
    out.print(table)
    notes = {j.style_unavailable for j in comparison.judged if j.style_unavailable}
    notes |= {f"no copy alarm: {j.copies_unavailable}" for j in comparison.judged if j.copies_unavailable}
    for note in sorted(notes):
        out.print(f"[dim]{safe(note)}[/]")
    if comparison.suggestion is not None:
        s = comparison.suggestion
        where = f"{safe(s.run)}/output/" if several else ""
        out.print(f"[bold green]suggested:[/] {where}{safe(s.adapter)} at strength {s.strength:g} ({safe(s.why)})")
    else:
        out.print(f"[yellow]no suggestion:[/] {_why_none(comparison)}")
