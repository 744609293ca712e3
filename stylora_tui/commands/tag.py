"""`stylora-tui tag DATASET -o OUT --trigger T`: Danbooru tags for every image (or only
the uncaptioned ones), written as captions into a new folder with the trigger first and
the family's quality tags after it. The dataset is never touched."""

from __future__ import annotations

from pathlib import Path

from stylora_tui.commands.captions import trigger_refused
from stylora_tui.config.families import get_family
from stylora_tui.dataset.derive import Source, images, new_output, with_trigger, write_copy
from stylora_tui.errors import DatasetError
from stylora_tui.integrations.tagger import Tagger, tagger_files
from stylora_tui.run.invocation import check_command
from stylora_tui.views import download
from stylora_tui.views.console import console, print_json, safe


def run(args) -> int:
    for name in ("general", "character"):
        if not 0 < getattr(args, name) <= 1:
            raise DatasetError(f"--{name} {getattr(args, name)} is not a probability", "use a value above 0 and at most 1 (0.35 general, 0.85 character are usual)")
    if args.batch_size < 1:
        raise DatasetError(f"--batch-size {args.batch_size} must be at least 1", "use 8, or 1 on a small GPU")
    trigger = args.trigger.strip()
    if trigger_refused(trigger, args.family or "animagine"):
        return 1
    source, output = new_output(Path(args.dataset), Path(args.output))  # refused before a download
    found = list(images(source, args.caption_extension))
    if not found:
        raise DatasetError(f"no images in {source}", "point at the folder that holds the images (PNG, JPEG, WebP)")
    todo = [item for item in found if not (args.keep_existing and item.caption is not None)]
    err = console(stderr=True)
    tags: dict[Path, list[str]] = {}
    if todo:
        tagger = Tagger(*tagger_files(args.tagger, download.fetch), args.general, args.character)
        tags = tag_all(tagger, todo, args.batch_size, err)
    quality = get_family(args.family).quality_tags if args.family else ()

    def caption_for(item: Source) -> str:
        text = ", ".join(tags[item.rel]) if item.rel in tags else item.caption
        return with_trigger(text, trigger, quality)

    placed = write_copy(source, output, caption_for, args.caption_extension, copy=args.copy)
    untagged = [str(rel) for rel, found_tags in tags.items() if not found_tags]
    result = {"output": str(output), "images": len(found), "tagged": len(tags), "kept": len(found) - len(tags),
              "without_tags": untagged, **placed}
    if args.json:
        print_json(result)
        return 0
    out = console()
    out.print(f"{len(tags)} image(s) tagged, {result['kept']} caption(s) kept → {safe(output)} "
              f"({placed['linked']} linked, {placed['copied']} copied); captions start with {safe(trigger)}")
    if untagged:
        out.print(f"[yellow]{len(untagged)} image(s) got no tag above the threshold[/] (e.g. {safe(untagged[0])}): "
                  "caption them by hand or lower --general")
    out.print(f"Read a few captions, then check the folder: {safe(check_command(output))}")
    return 0


def tag_all(tagger: Tagger, todo: list[Source], batch_size: int, err) -> dict[Path, list[str]]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    tags: dict[Path, list[str]] = {}
    columns = (TextColumn("tagging"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, disable=not err.is_terminal) as progress:
        task = progress.add_task("tagging", total=len(todo))
        for start in range(0, len(todo), batch_size):
            batch = todo[start:start + batch_size]
            for item, found in zip(batch, tagger.tag(item.path for item in batch)):
                tags[item.rel] = found
            progress.advance(task, len(batch))
    if not err.is_terminal:
        err.print(f"tagged {len(todo)} image(s) with {tagger.provider}")
    return tags
