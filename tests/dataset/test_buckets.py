from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stylora_tui.dataset.buckets import BucketAssigner, BucketSpec, bucket_resolutions, count_steps

SDXL = BucketSpec(1024, 1024, 256, 2048, 64)


def test_square_bucket_and_pairs():
    resos = bucket_resolutions(SDXL)
    assert (1024, 1024) in resos
    for w, h in resos:
        assert (h, w) in resos
        assert w % 64 == 0 and h % 64 == 0
        assert w * h <= 1024 * 1024
        assert min(w, h) >= 256 and max(w, h) <= 2048


def test_max_1024_clamps_non_square_buckets_below_one_megapixel():
    clamped = bucket_resolutions(BucketSpec(1024, 1024, 256, 1024, 64))
    assert all(w * h < 1024 * 1024 for w, h in clamped if w != h)
    assert max(w * h for w, h in bucket_resolutions(SDXL) if w != h) > 0.95 * 1024 * 1024


@pytest.mark.parametrize(
    "size, bucket, resized",
    [
        ((1024, 1024), (1024, 1024), (1024, 1024)),
        ((896, 1152), (896, 1152), (896, 1152)),  # the practitioner's generation size is a bucket
        ((1000, 1000), (1024, 1024), (1024, 1024)),  # small images are upscaled to cover
        ((2048, 2048), (1024, 1024), (1024, 1024)),
        ((3000, 1000), (1728, 576), (1728, 576)),  # 3:1 has an exact bucket
        ((1024, 1536), (832, 1216), (832, 1248)),  # 2:3 at 1 MP: nearest ratio, long side cropped
    ],
)
def test_assignment_table_at_1024(size, bucket, resized):
    placement = BucketAssigner(SDXL).place(*size)
    assert placement.bucket == bucket and placement.resized == resized


def test_portrait_resolution_keeps_two_to_three_exact():
    assigner = BucketAssigner(BucketSpec(1024, 1536, 256, 2048, 64))
    assert assigner.place(1024, 1536).bucket == (1024, 1536)
    assert assigner.place(2048, 3072).bucket == (1024, 1536)


def test_no_upscale_keeps_small_images_small():
    spec = BucketSpec(1024, 1024, 256, 2048, 64, no_upscale=True)
    placement = BucketAssigner(spec).place(700, 900)
    assert placement.bucket == (640, 896) and placement.resized == (700, 900)


def test_buckets_disabled_is_one_center_crop():
    spec = BucketSpec(1024, 1024, enabled=False)
    placement = BucketAssigner(spec).place(1024, 1536)
    assert placement.bucket == (1024, 1024) and placement.resized == (1024, 1536)


@given(st.integers(64, 6000), st.integers(64, 6000))
def test_placement_always_covers_its_bucket(width, height):
    placement = BucketAssigner(SDXL).place(width, height)
    assert placement.resized[0] >= placement.bucket[0] - 1 and placement.resized[1] >= placement.bucket[1] - 1
    assert placement.bucket in bucket_resolutions(SDXL)


def test_steps_sum_ceil_per_bucket():
    placements = [((1024, 1024), 2)] * 5 + [((832, 1216), 2)] * 3
    plan = count_steps(placements, batch_size=4, epochs=10)
    # ceil(10/4) + ceil(6/4) = 3 + 2
    assert plan.steps_per_epoch == 5 and plan.total_steps == 50
    assert [(b.width, b.height, b.count, b.draws) for b in plan.buckets] == [(1024, 1024, 5, 10), (832, 1216, 3, 6)]
    assert count_steps(placements, 4, 10, gradient_accumulation_steps=2).steps_per_epoch == 3
    assert count_steps(placements, 4, 10, max_steps=7).total_steps == 7


def test_practice_recipes():
    thirty = [((1024, 1536), 2)] * 30
    assert count_steps(thirty, 1, 150).total_steps == 9000
    assert count_steps([((1024, 1536), 4)] * 30, 1, 30).total_steps == 3600
