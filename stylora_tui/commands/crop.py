"""`stylora-tui crop DATASET --aspect W:H -o OUT`."""

from __future__ import annotations

from pathlib import Path

from stylora_tui.dataset.crop import crop_dataset, parse_aspect
from stylora_tui.display import printable
from stylora_tui.views.console import console, safe
from stylora_tui.views.invocation import check_command


def run(args) -> int:
    aspect = parse_aspect(args.aspect)
    result = crop_dataset(Path(args.dataset), Path(args.output), aspect, args.caption_extension)
    out = console()
    out.print(
        f"cropped {len(result.cropped)}, copied {len(result.copied)} already at {aspect[0]}:{aspect[1]}, "
        f"{result.captions} captions → {safe(args.output)}"
    )
    out.print(f"Review the crops, then check them: {safe(check_command(Path(args.output).absolute()))}")
    if result.skipped:
        # The copy is done, but the dataset had images that could not be read: an input
        # error, reported like every other (stderr, exit 1).
        err = console(stderr=True)
        err.print(f"error: {len(result.skipped)} image(s) could not be read and are not in the copy:", markup=False)
        for rel, why in result.skipped:
            err.print(f"  {printable(rel)}: {printable(why)}", markup=False)
        err.print(
            f"hint: re-export or replace them; `{check_command(Path(args.dataset).absolute())}` lists every problem", markup=False
        )
        return 1
    return 0
