"""Draw the embedded demo dataset (stylora_tui/examples/demo-style/) deterministically.

Eight 2:3 portrait images in one made-up style (flat colour fields, thick dark outlines,
a paper-grain dither) with WD14-style captions that start with the demo trigger. Small
enough to ship, large enough for the demo preset's 128x192 buckets.
"""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

OUT = Path(__file__).resolve().parent.parent / "stylora_tui" / "examples" / "demo-style"
TRIGGER = "stylorademostyle"
PALETTES = [
    ((244, 226, 198), (214, 80, 60), (40, 70, 110)),
    ((230, 238, 222), (70, 140, 90), (200, 150, 40)),
    ((250, 240, 230), (60, 90, 170), (230, 120, 150)),
    ((236, 228, 246), (120, 70, 160), (250, 200, 80)),
]
SUBJECTS = [
    ("1girl, solo, sun, hills, sky", "sun"),
    ("no humans, house, tree, sky, cloud", "house"),
    ("no humans, cat, sitting, window", "cat"),
    ("1boy, solo, mountain, river", "mountain"),
    ("no humans, flower, vase, table", "flower"),
    ("no humans, boat, sea, waves, moon", "boat"),
    ("1girl, umbrella, rain, street", "umbrella"),
    ("no humans, bird, branch, leaves", "bird"),
]


def draw(index: int, seed: int) -> Image.Image:
    rng = random.Random(seed)
    paper, main, accent = PALETTES[index % len(PALETTES)]
    width, height = 256, 384
    image = Image.new("RGB", (width, height), paper)
    pen = ImageDraw.Draw(image)
    outline = (30, 24, 28)
    for _ in range(3):
        x0, y0 = rng.randrange(0, width - 80), rng.randrange(0, height - 80)
        x1, y1 = x0 + rng.randrange(50, 150), y0 + rng.randrange(50, 200)
        shape = rng.choice(("ellipse", "rectangle", "polygon"))
        fill = rng.choice((main, accent))
        if shape == "ellipse":
            pen.ellipse((x0, y0, x1, y1), fill=fill, outline=outline, width=6)
        elif shape == "rectangle":
            pen.rounded_rectangle((x0, y0, x1, y1), radius=14, fill=fill, outline=outline, width=6)
        else:
            points = [(rng.randrange(x0, x1), rng.randrange(y0, y1)) for _ in range(4)]
            pen.polygon(points, fill=fill, outline=outline, width=6)
    horizon = rng.randrange(height // 2, height - 40)
    pen.line([(0, horizon), (width, horizon + rng.randrange(-30, 30))], fill=outline, width=5)
    # The style's paper grain: a fixed dither over every image.
    grain = Image.effect_noise((width, height), 24).convert("RGB")
    return Image.blend(image, grain, 0.08).filter(ImageFilter.SMOOTH)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for index, (tags, name) in enumerate(SUBJECTS):
        stem = f"{index + 1:02d}-{name}"
        draw(index, seed=1000 + index).save(OUT / f"{stem}.jpg", quality=88)
        (OUT / f"{stem}.txt").write_text(f"{TRIGGER}, {tags}, flat color, thick outlines\n", encoding="utf-8")
    print(f"wrote {len(SUBJECTS)} images to {OUT}")


if __name__ == "__main__":
    main()
