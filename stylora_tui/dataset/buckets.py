"""Aspect-ratio buckets exactly as kohya's sd-scripts computes them (FIELD-NOTES, Part 2).

Users compare our numbers with kohya's, so this follows `make_bucket_resolutions` and
`BucketManager.select_bucket` (library/model_util.py, library/train_util.py) step by step,
including the first-minimum tie break of numpy's argmin over the sorted bucket list.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, replace

from stylora_tui.config.schema import Config


@dataclass(frozen=True)
class BucketSpec:
    max_width: int
    max_height: int
    min_size: int = 256
    max_size: int = 2048
    step: int = 64
    no_upscale: bool = False
    enabled: bool = True

    @property
    def max_area(self) -> int:
        return self.max_width * self.max_height


@dataclass(frozen=True)
class Placement:
    """Where one image goes: its bucket, the size it is resized to, and what is cut."""

    bucket: tuple[int, int]
    resized: tuple[int, int]


def bucket_resolutions(spec: BucketSpec) -> list[tuple[int, int]]:
    """kohya's predefined buckets: widths from min to max in steps, plus the square."""
    resos = set()
    side = int(math.sqrt(spec.max_area) // spec.step) * spec.step
    resos.add((side, side))
    width = spec.min_size
    while width <= spec.max_size:
        height = min(spec.max_size, int((spec.max_area // width) // spec.step) * spec.step)
        if height >= spec.min_size:
            resos.add((width, height))
            resos.add((height, width))
        width += spec.step
    return sorted(resos)


class BucketAssigner:
    """Assigns image sizes to buckets; build once per spec (the bucket list is reused)."""

    def __init__(self, spec: BucketSpec) -> None:
        self.spec = spec
        self.resos = bucket_resolutions(spec) if spec.enabled else [(spec.max_width, spec.max_height)]
        self._reso_set = set(self.resos)
        self._ratios = [w / h for w, h in self.resos]

    def _round(self, x: float) -> int:
        x = int(x + 0.5)
        return x - x % self.spec.step

    def place(self, width: int, height: int) -> Placement:
        spec = self.spec
        aspect = width / height
        if not spec.enabled:
            reso = (spec.max_width, spec.max_height)
            return Placement(reso, _cover(width, height, reso))
        if not spec.no_upscale:
            if (width, height) in self._reso_set:
                reso = (width, height)
            else:
                errors = [abs(r - aspect) for r in self._ratios]
                reso = self.resos[errors.index(min(errors))]
            return Placement(reso, _cover(width, height, reso))
        if width * height > spec.max_area:
            resized_w = math.sqrt(spec.max_area * aspect)
            resized_h = spec.max_area / resized_w
            w_rounded = self._round(resized_w)
            h_in_wr = self._round(w_rounded / aspect)
            ar_w_rounded = w_rounded / h_in_wr if h_in_wr else float("inf")
            h_rounded = self._round(resized_h)
            w_in_hr = self._round(h_rounded * aspect)
            ar_h_rounded = w_in_hr / h_rounded if h_rounded else float("inf")
            if abs(ar_w_rounded - aspect) < abs(ar_h_rounded - aspect):
                resized = (w_rounded, int(w_rounded / aspect + 0.5))
            else:
                resized = (int(h_rounded * aspect + 0.5), h_rounded)
        else:
            resized = (width, height)
        bucket = (resized[0] - resized[0] % spec.step, resized[1] - resized[1] % spec.step)
        return Placement(bucket, resized)


def _cover(width: int, height: int, reso: tuple[int, int]) -> tuple[int, int]:
    """Scale to cover the bucket (kohya: fit the side that is relatively shorter)."""
    if width / height > reso[0] / reso[1]:
        scale = reso[1] / height
    else:
        scale = reso[0] / width
    return (int(width * scale + 0.5), int(height * scale + 0.5))


@dataclass(frozen=True)
class BucketRow:
    width: int
    height: int
    count: int  # images
    draws: int  # images x their repeats: what one epoch draws from this bucket
    steps: int  # batches per epoch


@dataclass(frozen=True)
class StepCount:
    buckets: tuple[BucketRow, ...]
    batch_size: int
    epochs: int
    gradient_accumulation_steps: int
    max_steps: int
    processes: int = 1

    def at_batch(self, batch_size: int) -> StepCount:
        """The same images at another batch size (batches still form within buckets)."""
        rows = tuple(replace(b, steps=math.ceil(b.draws / batch_size)) for b in self.buckets)
        return replace(self, buckets=rows, batch_size=batch_size)

    @property
    def batches_per_epoch(self) -> int:
        return sum(b.steps for b in self.buckets)

    @property
    def batches_per_process(self) -> int:
        """Each GPU takes every n-th batch of the epoch."""
        return math.ceil(self.batches_per_epoch / self.processes)

    @property
    def steps_per_epoch(self) -> int:
        """Optimizer steps per epoch (kohya: ceil(batches per GPU / accumulation))."""
        return math.ceil(self.batches_per_process / self.gradient_accumulation_steps)

    @property
    def total_steps(self) -> int:
        total = self.steps_per_epoch * self.epochs
        return min(total, self.max_steps) if self.max_steps else total

    def to_json(self) -> dict:
        return {
            "per_epoch": self.steps_per_epoch,
            "batches_per_epoch": self.batches_per_epoch,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
            "gpus": self.processes,
            "images_per_epoch": sum(b.draws for b in self.buckets),
            "total": self.total_steps,
        }


def count_steps(
    placements: list[tuple[tuple[int, int], int]],
    batch_size: int,
    epochs: int,
    gradient_accumulation_steps: int = 1,
    max_steps: int = 0,
    processes: int = 1,
) -> StepCount:
    """Steps from (bucket, repeats) per image: Σ over buckets of ceil(images × repeats / batch)."""
    images: Counter = Counter()
    draws: Counter = Counter()
    for bucket, repeats in placements:
        images[bucket] += 1
        draws[bucket] += repeats
    rows = tuple(
        BucketRow(w, h, images[(w, h)], draws[(w, h)], math.ceil(draws[(w, h)] / batch_size))
        for (w, h) in sorted(images, key=lambda b: (-images[b], b))
    )
    return StepCount(rows, batch_size, epochs, gradient_accumulation_steps, max_steps, processes)


def aspect_label(width: int, height: int) -> str:
    """A readable ratio for a bucket or an image: 2:3, 1:1, 16:9, else 0.67."""
    for a, b in ((1, 1), (2, 3), (3, 2), (3, 4), (4, 3), (9, 16), (16, 9), (4, 5), (5, 4), (1, 2), (2, 1), (5, 7), (7, 5)):
        if abs(width / height - a / b) < 0.03:
            return f"{a}:{b}"
    return f"{width / height:.2f}"


def spec_for(config: Config) -> BucketSpec:
    ds = config.dataset
    width, height = config.resolution
    return BucketSpec(
        width, height, ds.min_bucket_px, ds.max_bucket_px, ds.bucket_step_px, ds.bucket_no_upscale, ds.enable_buckets
    )
