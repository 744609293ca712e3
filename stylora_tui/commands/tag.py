"""`stylora-tui tag DATASET -o OUT --trigger T`: Danbooru tags for every image (or only
the uncaptioned ones), written as captions into a new folder with the trigger first and
the family's quality tags after it. The dataset is never touched."""

from __future__ import annotations

from pathlib import Path

from stylora_tui.config.families import get_family
from stylora_tui.errors import DatasetError
from stylora_tui.integrations.tagger import tag_dataset
from stylora_tui.views import download
from stylora_tui.views.console import console, print_json, safe
from stylora_tui.views.invocation import check_command
from stylora_tui.views.trigger import trigger_refused


def run(args) -> int:
    for name in ("general", "character"):
        if not 0 < getattr(args, name) <= 1:
            raise DatasetError(
                f"--{name} {getattr(args, name)} is not a probability",
                "use a value above 0 and at most 1 (0.35 general, 0.85 character are usual)",
            )
    if args.batch_size < 1:
        raise DatasetError(f"--batch-size {args.batch_size} must be at least 1", "use 8, or 1 on a small GPU")
    trigger = args.trigger.strip()
    if trigger_refused(trigger, args.family or "animagine"):
        return 1
    err = console(stderr=True)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("tagging"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, disable=not err.is_terminal) as progress:
        task = progress.add_task("tagging", total=None)
        result = tag_dataset(
            Path(args.dataset),
            Path(args.output),
            args.tagger,
            trigger=trigger,
            quality=get_family(args.family).quality_tags if args.family else (),
            keep_existing=args.keep_existing,
            general=args.general,
            character=args.character,
            batch_size=args.batch_size,
            caption_extension=args.caption_extension,
            copy=args.copy,
            fetch=download.fetch,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    data = {
        "output": str(result.output),
        "images": result.images,
        "tagged": result.tagged,
        "kept": result.kept,
        "without_tags": list(result.without_tags),
        "linked": result.linked,
        "copied": result.copied,
    }
    if args.json:
        print_json(data)
        return 0
    out = console()
    by = f" with {result.provider}" if result.tagged else ""
    out.print(
        f"{result.tagged} image(s) tagged{by}, {result.kept} caption(s) kept → {safe(result.output)} "
        f"({result.linked} linked, {result.copied} copied); captions start with {safe(trigger)}"
    )
    if result.without_tags:
        out.print(
            f"[yellow]{len(result.without_tags)} image(s) got no tag above the threshold[/] "
            f"(e.g. {safe(result.without_tags[0])}): caption them by hand or lower --general"
        )
    out.print(f"Read a few captions, then check the folder: {safe(check_command(result.output))}")
    return 0
