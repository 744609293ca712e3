"""`stylora-tui crop DATASET --aspect W:H -o OUT`."""

from __future__ import annotations

from pathlib import Path

from stylora_tui.commands.output import console, safe
from stylora_tui.core.crop import crop_dataset, parse_aspect
from stylora_tui.core.display import printable
from stylora_tui.core.invocation import check_command


def run(args) -> int:
    aspect = parse_aspect(args.aspect)
    result = crop_dataset(Path(args.dataset), Path(args.output), aspect, args.caption_extension)
    out = console()
    out.print(
        f"cropped {len(result.cropped)}, copied {len(result.copied)} already at {aspect[0]}:{aspect[1]}, "
        f"{result.captions} captions → {safe(args.output)}"
    )
    for rel, why in result.skipped:
        out.print(f"  skipped {printable(rel)}: {printable(why)}", markup=False)
    out.print(f"Review the crops, then check them: {safe(check_command(Path(args.output).absolute()))}")
    return 1 if result.skipped else 0
