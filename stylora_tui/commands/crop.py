"""`stylora-tui crop DATASET --aspect W:H -o OUT`."""

from __future__ import annotations

from pathlib import Path

from stylora_tui.commands.output import console
from stylora_tui.core.crop import crop_dataset, parse_aspect


def run(args) -> int:
    aspect = parse_aspect(args.aspect)
    result = crop_dataset(Path(args.dataset), Path(args.output), aspect, args.caption_extension)
    out = console()
    out.print(
        f"cropped {len(result.cropped)}, copied {len(result.copied)} already at {aspect[0]}:{aspect[1]}, "
        f"{result.captions} captions → {args.output}"
    )
    for rel, why in result.skipped:
        out.print(f"  skipped {rel}: {why}", markup=False)
    out.print(f"Review the crops, then check them: stylora-tui check {args.output}")
    return 1 if result.skipped else 0
