"""Crop a dataset to one aspect ratio, into a new folder; the source is never touched.

The practice: crop every image to ONE aspect ratio deliberately, because the trainer's
own center crop can cut off content. This makes the deliberate version quick: a centered
crop of the largest area with the wanted ratio, as a starting point the user can review.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from stylora_tui.dataset.derive import new_output
from stylora_tui.dataset.reading import open_regular
from stylora_tui.dataset.scan import list_dataset
from stylora_tui.errors import DatasetError

ASPECT = re.compile(r"^\s*(\d+)\s*[:x/]\s*(\d+)\s*$")
RATIO_TOLERANCE = 0.005


@dataclass(frozen=True)
class CropResult:
    cropped: tuple[str, ...]
    copied: tuple[str, ...]  # already at the ratio: copied byte for byte
    skipped: tuple[tuple[str, str], ...]  # (rel path, why)
    captions: int


def parse_aspect(text: str) -> tuple[int, int]:
    match = ASPECT.match(text or "")
    if not match or int(match.group(1)) == 0 or int(match.group(2)) == 0:
        raise DatasetError(f"aspect {text!r} is not W:H", "write it like 2:3 (portrait) or 3:2 (landscape) or 1:1")
    return int(match.group(1)), int(match.group(2))


def crop_box(width: int, height: int, aspect: tuple[int, int]) -> tuple[int, int, int, int]:
    """The largest centered box of the given aspect inside width x height."""
    target = aspect[0] / aspect[1]
    if width / height > target:
        new_width = round(height * target)
        left = (width - new_width) // 2
        return (left, 0, left + new_width, height)
    new_height = round(width / target)
    top = (height - new_height) // 2
    return (0, top, width, top + new_height)


@dataclass(frozen=True)
class CropLoss:
    rel: str
    lost_width: float  # fraction of the width cut away
    lost_height: float
    upscaled: bool  # the crop is smaller than the training bucket it will fill


def crop_losses(images, aspect: tuple[int, int], bucket_area: int) -> list[CropLoss]:
    """What each image would lose to the crop, before anything is written: landscape and
    square images cropped to a portrait ratio lose much of their width."""
    losses = []
    for image in images:
        width, height = image.info.width, image.info.height
        left, top, right, bottom = crop_box(width, height, aspect)
        lost_w, lost_h = 1 - (right - left) / width, 1 - (bottom - top) / height
        if lost_w > RATIO_TOLERANCE or lost_h > RATIO_TOLERANCE:
            losses.append(CropLoss(image.rel, lost_w, lost_h, (right - left) * (bottom - top) < bucket_area))
    return losses


def describe_losses(losses: list[CropLoss], total: int) -> str:
    if not losses:
        return f"all {total} images are at this ratio already: they are copied as they are"
    worst = max(losses, key=lambda c: max(c.lost_width, c.lost_height))
    side, lost = ("width", worst.lost_width) if worst.lost_width >= worst.lost_height else ("height", worst.lost_height)
    upscaled = sum(c.upscaled for c in losses)
    text = f"{len(losses)} of {total} images lose part of their picture (up to {lost:.0%} of the {side}: {worst.rel})"
    if upscaled:
        text += f"; {upscaled} become smaller than the training bucket and will be upscaled"
    return text + ". Cropping by hand keeps what matters; this is a centred starting point."


def crop_dataset(
    source: Path,
    output: Path,
    aspect: tuple[int, int],
    caption_extension: str = ".txt",
    progress: Callable[[int, int], None] | None = None,
) -> CropResult:
    from PIL import Image, ImageOps

    source, output = new_output(source, output)
    entries, _, _ = list_dataset(source, caption_extension, 1)
    cropped, copied, skipped, captions = [], [], [], 0
    for index, (path, _, caption) in enumerate(entries):
        rel = path.relative_to(source)
        target = output / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open_regular(path) as handle, Image.open(handle) as image:
                image.load()
                shown = ImageOps.exif_transpose(image)
                box = crop_box(shown.width, shown.height, aspect)
                if (
                    box == (0, 0, shown.width, shown.height)
                    or abs(shown.width / shown.height - aspect[0] / aspect[1]) < RATIO_TOLERANCE
                ):
                    shutil.copy2(path, target)
                    copied.append(str(rel))
                else:
                    _save_like(shown.crop(box), image, target)
                    cropped.append(str(rel))
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            skipped.append((str(rel), str(exc) or type(exc).__name__))
            continue
        if caption is not None:
            shutil.copy2(caption, output / caption.relative_to(source))
            captions += 1
        if progress:
            progress(index + 1, len(entries))
    return CropResult(tuple(cropped), tuple(copied), tuple(skipped), captions)


def _save_like(image, original, target: Path) -> None:
    """Save in the original's format at near-lossless quality, keeping its colour profile."""
    options = {}
    if original.info.get("icc_profile"):
        options["icc_profile"] = original.info["icc_profile"]
    fmt = original.format or "PNG"
    if fmt == "JPEG":
        image = image.convert("RGB") if image.mode not in ("RGB", "L", "CMYK") else image
        options.update(quality=95, subsampling=0)
    elif fmt == "WEBP":
        options.update(quality=95)
    image.save(target, format=fmt, **options)
