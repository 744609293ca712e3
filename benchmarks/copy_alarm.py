"""The copy alarm on a generated labelled set: planted copies found, same-style pictures flagged.

    python benchmarks/copy_alarm.py [--styles 4] [--train 30] [--per-kind 8] [--distinct 30]

Per style: a training set of 1024x1536 pictures (palette, texture and a centred subject in
common), planted copies of random training pictures of every kind in choose/style_set.py
at a preview's size (832x1216), and distinct pictures in the same style. Each preview is
checked against its style's training set. Prints the hit rate per kind, the false-alarm
rate and the time to fingerprint a training set and to check one epoch's previews.
Targets: hits >= 95 % on every kind, false alarms <= 5 %.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from stylora_tui.choose import copies
from stylora_tui.choose.style_set import COPY_KINDS, painting, planted, style

TRAIN_SIZE, PREVIEW_SIZE = (1024, 1536), (832, 1216)
HIT_TARGET, FALSE_ALARM_TARGET = 0.95, 0.05
PREVIEWS_PER_EPOCH = 4


def write_style(folder: Path, index: int, train: int, per_kind: int, distinct: int):
    """The training set, then (preview path, planted from or None) pairs."""
    look = style(1000 + index)
    folder.mkdir(parents=True)
    pictures = []
    for n in range(train):
        picture = painting(look, seed=index * 10_000 + n, size=TRAIN_SIZE)
        picture.save(folder / f"train{n:02d}.jpg", quality=92)
        pictures.append(picture)
    rng = random.Random(index)
    previews = []
    for kind in COPY_KINDS:
        for n in range(per_kind):
            source = rng.randrange(train)
            path = folder / f"copy-{kind}-{n}.png"
            planted(pictures[source], kind, PREVIEW_SIZE, seed=n).save(path)
            previews.append((path, kind, str(folder / f"train{source:02d}.jpg")))
    for n in range(distinct):
        path = folder / f"distinct{n:02d}.png"
        painting(look, seed=index * 10_000 + 5_000 + n, size=PREVIEW_SIZE).save(path)
        previews.append((path, None, None))
    return sorted(folder.glob("train*.jpg")), previews


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--styles", type=int, default=4)
    parser.add_argument("--train", type=int, default=30)
    parser.add_argument("--per-kind", type=int, default=8)
    parser.add_argument("--distinct", type=int, default=30)
    args = parser.parse_args()
    hits = {kind: [0, 0] for kind in COPY_KINDS}
    false_alarms, distinct_total, wrong_source = 0, 0, 0
    fingerprint_s, check_s, checked = [], 0.0, 0
    farthest_copy, closest_distinct = 0.0, float("inf")
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(args.styles):
            training, previews = write_style(Path(tmp) / f"style{index}", index, args.train, args.per_kind, args.distinct)
            start = time.perf_counter()
            prints = copies.training_fingerprints(training)
            fingerprint_s.append(time.perf_counter() - start)
            start = time.perf_counter()
            found = {c.sample: c for c in copies.near_copies([p for p, _, _ in previews], prints)}
            check_s += time.perf_counter() - start
            checked += len(previews)
            for path, kind, source in previews:
                flagged = found.get(str(path))
                distance = (copies.nearest(copies.preview_fingerprints(path), prints) or (float("inf"), ""))[0]
                if kind is None:
                    distinct_total += 1
                    false_alarms += flagged is not None
                    closest_distinct = min(closest_distinct, distance)
                    continue
                farthest_copy = max(farthest_copy, distance)
                hits[kind][1] += 1
                if flagged is not None:
                    hits[kind][0] += 1
                    wrong_source += flagged.training_image != source
    print(f"copy alarm: {args.styles} styles x {args.train} training pictures {TRAIN_SIZE[0]}x{TRAIN_SIZE[1]}")
    print(f"{'planted copy':<14}{'found':>8}{'rate':>9}  target >= {HIT_TARGET:.0%}")
    for kind, (found_n, total) in hits.items():
        print(f"{kind:<14}{found_n:>4}/{total:<3}{found_n / total:>9.1%}")
    all_found = sum(h[0] for h in hits.values())
    all_total = sum(h[1] for h in hits.values())
    print(f"{'all copies':<14}{all_found:>4}/{all_total:<3}{all_found / all_total:>9.1%}  (wrong picture named: {wrong_source})")
    print(
        f"{'same style':<14}{false_alarms:>4}/{distinct_total:<3}{false_alarms / distinct_total:>9.1%}  "
        f"flagged (target <= {FALSE_ALARM_TARGET:.0%})"
    )
    print(
        f"distance (alarm at <= {copies.MAX_DISTANCE:g}): farthest planted copy {farthest_copy:.1f}, "
        f"closest same-style picture {closest_distinct:.1f}"
    )
    print(f"fingerprint a training set of {args.train}: {sum(fingerprint_s) / len(fingerprint_s):.2f} s")
    print(f"check one epoch ({PREVIEWS_PER_EPOCH} previews): {check_s / checked * PREVIEWS_PER_EPOCH * 1000:.0f} ms")


if __name__ == "__main__":
    main()
