"""The copy alarm: previews that are near-copies of a training image, with that image named.

An adapter trained too hard "wants to output the training images" (the practice). Each
preview is compared with every training image through perceptual fingerprints that need no
model: a difference hash (the layout of light and dark) and a coarse colour grid (where the
colours sit), of the preview and its mirror image against the training image whole and
cropped (90 % and 80 %, at several positions). A copy that was resized, re-compressed,
cropped to about 80 % or mirrored keeps both; another picture in the same style keeps its
palette but not its layout. Pillow only: it runs on any machine, offline, in milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

# A preview copies a training image when, for some view of each, the hash distance (bits of
# 64) plus COLOUR_WEIGHT x the colour-grid distance (mean absolute difference, 0-255) is at
# most MAX_DISTANCE. Measured in benchmarks/copy_alarm.py: planted copies score 0-10 (a crop
# the highest), distinct pictures of the same style 14 and up (their centred subject and
# palette agree, their layout does not). Either measure alone fails: same-style pictures can
# share a layout's hash within 4 bits, or a palette within a few levels.
COLOUR_WEIGHT = 0.5
MAX_DISTANCE = 12.0
CROPS = ((1.0, 1), (0.9, 3), (0.85, 4), (0.8, 5))  # (share of each side kept, positions per axis)
ASPECTS = (1.0, 3 / 4, 4 / 3)  # a preview at another aspect copies the largest crop of it
FINGERPRINT_VERSION = 1
WORKING_SIDE = 288


@dataclass(frozen=True)
class Fingerprint:
    hash: int  # 64-bit difference hash
    colours: tuple[int, ...]  # 4x4 grid of mean RGB, 48 values


@dataclass(frozen=True)
class Copy:
    sample: str  # the preview (as given)
    training_image: str  # the training image it copies (as given)
    similarity: float  # 1: identical; 0: just within the alarm's threshold


def fingerprint(image) -> Fingerprint:
    """`image`: a PIL image."""
    from PIL import Image

    grey = image.convert("L").resize((9, 8), Image.Resampling.BOX)
    pixels = grey.tobytes()  # one byte per pixel, row by row
    bits = 0
    for row in range(8):
        for column in range(8):
            bits = (bits << 1) | (pixels[row * 9 + column] > pixels[row * 9 + column + 1])
    grid = image.convert("RGB").resize((4, 4), Image.Resampling.BOX)
    colours = tuple(grid.tobytes())  # R, G, B of each cell, row by row
    return Fingerprint(bits, colours)


def views(image) -> list[Fingerprint]:
    """A training image whole and cropped at several sizes and positions."""
    image = _working_copy(image)
    width, height = image.size
    found = []
    for share, positions in CROPS:
        crop_w, crop_h = max(1, round(width * share)), max(1, round(height * share))
        for i in range(positions):
            for j in range(positions):
                left = round((width - crop_w) * i / max(1, positions - 1))
                top = round((height - crop_h) * j / max(1, positions - 1))
                found.append(fingerprint(image.crop((left, top, left + crop_w, top + crop_h))))
    for aspect in ASPECTS:
        if abs(aspect - width / height) / aspect < 0.1:
            continue
        crop_w, crop_h = min(width, round(height * aspect)), min(height, round(width / aspect))
        for i in range(3):
            left, top = round((width - crop_w) * i / 2), round((height - crop_h) * i / 2)
            found.append(fingerprint(image.crop((left, top, left + crop_w, top + crop_h))))
    return found


def preview_views(image) -> list[Fingerprint]:
    """A preview and its mirror image (a copy may come out flipped)."""
    from PIL import ImageOps

    image = _working_copy(image)
    return [fingerprint(image), fingerprint(ImageOps.mirror(image))]


def _working_copy(image):
    """Fingerprints average over blocks far larger than this: shrinking first changes no bit
    worth having and makes the crops cheap."""
    from PIL import Image

    scale = WORKING_SIDE / max(image.size)
    if scale >= 1:
        return image
    return image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.Resampling.BOX)


def distance(a: Fingerprint, b: Fingerprint) -> float:
    colour = sum(abs(x - y) for x, y in zip(a.colours, b.colours)) / len(a.colours)
    return (a.hash ^ b.hash).bit_count() + COLOUR_WEIGHT * colour


def closest(preview: list[Fingerprint], training: list[Fingerprint]) -> float:
    """The distance of the closest pair of views."""
    return min(distance(p, t) for p in preview for t in training)


def near_copies(
    previews: Iterable[Path], training: dict[str, list[Fingerprint]], prints_of: Callable[[Path], list[Fingerprint]] | None = None
) -> list[Copy]:
    """Every preview that copies a training image (`training`: name -> its views), with the
    closest one named. `prints_of(path)` gives a preview's fingerprints (a cache may answer)."""
    found = []
    for path in previews:
        near = nearest((prints_of or preview_fingerprints)(path), training)
        if near is not None and near[0] <= MAX_DISTANCE:
            found.append(Copy(str(path), near[1], similarity(near[0])))
    return found


def nearest(prints: list[Fingerprint], training: dict[str, list[Fingerprint]]) -> tuple[float, str] | None:
    """(distance, name) of the training image closest to a preview's fingerprints."""
    return min(((closest(prints, views_of), name) for name, views_of in training.items()), default=None)


def similarity(found: float) -> float:
    """1 for an identical picture, 0 at the alarm's threshold."""
    return round(1 - found / MAX_DISTANCE, 3)


def training_fingerprints(paths: Iterable[Path]) -> dict[str, list[Fingerprint]]:
    from PIL import Image, ImageOps

    prints = {}
    for path in paths:
        with Image.open(path) as opened:
            prints[str(path)] = views(ImageOps.exif_transpose(opened).convert("RGB"))
    return prints


def preview_fingerprints(path: Path) -> list[Fingerprint]:
    from PIL import Image

    with Image.open(path) as opened:
        return preview_views(opened.convert("RGB"))
