"""A labelled style set made on the spot, for the copy alarm's benchmark and the tests of the
ranking and the suggestion: styles (a palette, a grain, stripes, a subject placed near the
centre as an artist's characters are), pictures in a style, planted copies of a picture as a
too-hard adapter would return them, and styles part-way between two (an epoch that has learnt
a share of the style).

Same-style pictures share palette, texture and a centred subject on purpose: they are the
hard case for a copy alarm, as an artist's portraits are.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

RGB = tuple[int, int, int]
# How a near-copy of a training image may come back from a model or a user's pipeline.
COPY_KINDS = ("exact", "resized", "recompressed", "cropped", "mirrored", "re-rendered")


@dataclass(frozen=True)
class Style:
    palette: tuple[RGB, ...]  # background pair first, then the fills
    grain: float  # noise strength, 0-1
    stripe: int  # stripe period in px at 1024 wide; 0: none
    subject: RGB  # the centred subject's colour


def style(seed: int) -> Style:
    rng = random.Random(seed)
    palette = tuple(tuple(rng.randrange(256) for _ in range(3)) for _ in range(6))
    return Style(palette, rng.uniform(0.0, 0.5), rng.choice((0, 12, 24, 48)), palette[2])  # type: ignore[arg-type]


def toward(start: Style, end: Style, share: float) -> Style:
    """`share` of the way from `start` to `end` (0: start, 1: end)."""

    def mix(a: RGB, b: RGB) -> RGB:
        return tuple(round(x + (y - x) * share) for x, y in zip(a, b))  # type: ignore[return-value]

    return Style(
        tuple(mix(a, b) for a, b in zip(start.palette, end.palette)),
        start.grain + (end.grain - start.grain) * share,
        end.stripe if share >= 0.5 else start.stripe,
        mix(start.subject, end.subject),
    )


def painting(look: Style, seed: int, size: tuple[int, int] = (1024, 1536)):
    """A picture in `look`: a gradient, shapes in its palette, a centred subject, its texture."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    width, height = size
    top, bottom = look.palette[0], look.palette[1]
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    image = Image.composite(Image.new("RGB", size, bottom), Image.new("RGB", size, top), image.convert("L"))
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(5, 9)):
        x, y = rng.randrange(width), rng.randrange(height)
        rx, ry = rng.randrange(width // 12, width // 3), rng.randrange(height // 12, height // 3)
        fill = rng.choice(look.palette[2:])
        if rng.random() < 0.5:
            draw.ellipse((x - rx, y - ry, x + rx, y + ry), fill=fill)
        else:
            draw.rectangle((x - rx, y - ry, x + rx, y + ry), fill=fill)
    cx = width * rng.uniform(0.4, 0.6)
    cy = height * rng.uniform(0.45, 0.6)
    sx, sy = width * rng.uniform(0.15, 0.25), height * rng.uniform(0.2, 0.3)
    draw.ellipse((cx - sx, cy - sy, cx + sx, cy + sy), fill=look.subject)
    draw.ellipse((cx - sx / 2, cy - sy - sx / 2, cx + sx / 2, cy - sy + sx / 2), fill=look.palette[3])
    return _texture(image, look, rng)


def _texture(image, look: Style, rng: random.Random):
    from PIL import Image, ImageChops, ImageDraw

    if look.stripe:
        period = max(2, round(look.stripe * image.width / 1024))
        lines = Image.new("L", image.size, 0)
        draw = ImageDraw.Draw(lines)
        for y in range(rng.randrange(period), image.height, period):
            draw.line((0, y, image.width, y), fill=40, width=max(1, period // 4))
        image = ImageChops.subtract(image, Image.merge("RGB", (lines, lines, lines)))
    if look.grain:
        image = Image.blend(image, noise(image.size, 64, rng), look.grain * 0.35)
    return image


def planted(image, kind: str, size: tuple[int, int], seed: int = 0):
    """`image` as a near-copy of `kind`, returned at a preview's `size`."""
    import io

    from PIL import Image, ImageFilter, ImageOps

    rng = random.Random(seed)
    if kind == "exact":
        return image.copy()
    if kind == "mirrored":
        return ImageOps.mirror(image).resize(size, Image.Resampling.LANCZOS)
    if kind == "cropped":
        share = rng.uniform(0.78, 0.85)
        w, h = round(image.width * share), round(image.height * share)
        left, top = rng.randrange(image.width - w + 1), rng.randrange(image.height - h + 1)
        return image.crop((left, top, left + w, top + h)).resize(size, Image.Resampling.LANCZOS)
    resized = image.resize(size, Image.Resampling.LANCZOS)
    if kind == "resized":
        return resized
    if kind == "recompressed":
        buffer = io.BytesIO()
        resized.save(buffer, "JPEG", quality=rng.randint(35, 60))
        return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    if kind == "re-rendered":
        # What a model returns when it reproduces an image: softer, shifted a little, new grain.
        soft = resized.filter(ImageFilter.GaussianBlur(2))
        shifts = [rng.randint(-12, 12) for _ in range(3)]
        bands = [band.point(lambda v, s=s: min(255, max(0, v + s))) for band, s in zip(soft.split(), shifts)]
        shifted = Image.merge("RGB", bands)
        return Image.blend(shifted, noise(size, 48, rng), 0.08)
    raise ValueError(f"unknown copy kind {kind!r}; one of {', '.join(COPY_KINDS)}")


def noise(size: tuple[int, int], sigma: float, rng: random.Random):
    """Grey Gaussian noise around mid-grey drawn from `rng`. Pillow's effect_noise draws from
    C's unseeded rand(): the same seed gave another picture each time, and a planted copy at
    the alarm's edge was found in one test run and missed in the next."""
    from statistics import NormalDist

    from PIL import Image

    normal = NormalDist(128, sigma)
    levels = [min(255, max(0, round(normal.inv_cdf((v + 0.5) / 256)))) for v in range(256)]
    uniform = Image.frombytes("L", size, rng.randbytes(size[0] * size[1]))
    return uniform.point(levels).convert("RGB")
