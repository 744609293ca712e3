"""Datasets at the practice's scale made on the spot: distinct images with WD14-style tag
captions, the trigger first. The benchmarks measure on them and the tests train on them,
where no artist's folder can ship."""

from __future__ import annotations

from pathlib import Path

PRACTICE_TAGS = (
    "1girl",
    "solo",
    "looking at viewer",
    "long hair",
    "smile",
    "outdoors",
    "sky",
    "cloud",
    "tree",
    "flower",
    "school uniform",
    "blue eyes",
    "brown hair",
    "upper body",
    "holding",
    "standing",
    "day",
    "blush",
)


def write_practice_dataset(
    folder: Path, count: int = 30, size: tuple[int, int] = (1024, 1536), trigger: str = "stylorapractice", fmt: str = "JPEG"
) -> Path:
    """A dataset at the practice's scale: `count` distinct images (1024x1536 by default) with
    WD14-style tag captions, the trigger first. Each image is a different smooth pattern so the
    near-duplicate check stays quiet, as on a real artist's folder."""
    import random

    from PIL import Image, ImageDraw

    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        rng = random.Random(index)
        image = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
        draw = ImageDraw.Draw(image)
        for _ in range(6):
            x, y = rng.randrange(size[0]), rng.randrange(size[1])
            r = rng.randrange(size[0] // 8, size[0] // 2)
            draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rng.randrange(256) for _ in range(3)))
        suffix = ".jpg" if fmt == "JPEG" else ".png"
        image.save(folder / f"{index:03d}{suffix}", fmt, quality=85) if fmt == "JPEG" else image.save(
            folder / f"{index:03d}{suffix}", fmt
        )
        tags = rng.sample(PRACTICE_TAGS, 8)
        (folder / f"{index:03d}.txt").write_text(", ".join((trigger, *tags)), encoding="utf-8")
    return folder
