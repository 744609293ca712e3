"""Which images are held out for validation: deterministic by seed, the same everywhere.

The dataset check counts steps without them and the trainer trains without them, so
both must pick the same ones.
"""

from __future__ import annotations

import random


def holdout(rels: list[str], count: int, seed: int) -> set[str]:
    if count <= 0:
        return set()
    ordered = sorted(rels)
    return set(random.Random(f"holdout-{seed}").sample(ordered, min(count, len(ordered))))
