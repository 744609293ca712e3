"""`stylora-tui captions DATASET --add-trigger T -o OUT`: an already-tagged dataset with the
trigger first in every caption (added, or moved to the front), each tag once, written to a
new folder. The dataset is never touched."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from stylora_tui.dataset.captions import same_tag, split_tags
from stylora_tui.dataset.derive import Source, with_trigger, write_copy
from stylora_tui.views.console import console, print_json, safe
from stylora_tui.views.invocation import check_command, command
from stylora_tui.views.trigger import trigger_refused


def run(args) -> int:
    trigger = args.add_trigger.strip()
    if trigger_refused(trigger, args.family):
        return 1
    counts: Counter[str] = Counter()

    def caption_for(item: Source) -> str:
        tags = split_tags(item.caption or "")
        new = with_trigger(item.caption, trigger)
        present = any(same_tag(t, trigger) for t in tags)
        if item.caption is None:
            counts["uncaptioned"] += 1
        elif not present:
            counts["added"] += 1
        elif not same_tag(tags[0], trigger):
            counts["moved"] += 1
        else:
            counts["already_first"] += 1
        counts["duplicates_removed"] += len(tags) + (0 if present else 1) - len(split_tags(new))
        return new

    placed = write_copy(Path(args.dataset), Path(args.output), caption_for, args.caption_extension, copy=args.copy)
    output = Path(args.output).expanduser().absolute()
    result = {
        "output": str(output),
        "images": placed["linked"] + placed["copied"],
        **placed,
        **{k: counts[k] for k in ("added", "moved", "already_first", "uncaptioned", "duplicates_removed")},
    }
    if args.json:
        print_json(result)
        return 0
    out = console()
    out.print(
        f"{result['images']} images → {safe(output)} ({placed['linked']} linked, {placed['copied']} copied); "
        f"trigger added to {counts['added']}, moved to the front in {counts['moved']}, already first in {counts['already_first']}; "
        f"{counts['duplicates_removed']} duplicate tag(s) removed"
    )
    if counts["uncaptioned"]:
        source = Path(args.dataset).expanduser().absolute()
        tag = command("tag", str(source), "-o", f"{source}-tagged", "--trigger", trigger, "--keep-existing")
        out.print(
            f"[yellow]{counts['uncaptioned']} image(s) had no caption[/] and got the trigger alone: tag the dataset "
            f"instead (`{safe(tag)}` tags only those, keeps the other captions, and puts the trigger first in all), "
            "or write their captions"
        )
    out.print(f"Check the new folder: {safe(check_command(output))}")
    return 0
