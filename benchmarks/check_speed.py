"""Dataset check speed against a naive full decode, on N 1024x1536 images (one truncated).

    python benchmarks/check_speed.py [N] [--format jpg|png]

Prints a table: the naive single-process `Image.open(p).convert("RGB")` per file, and
`scan_dataset` with a cold cache (both cores) and a warm cache. Target: the cold check
takes at most 0.35x the naive time for JPEGs (0.60x for PNGs, whose every byte must be
inflated: see docs/BENCHMARKS.md) on 2 cores and still reports the truncated file.
"""

from __future__ import annotations

import argparse
import random
import resource
import tempfile
import time
from pathlib import Path

from PIL import Image

from stylora_tui.config.build import build_config
from stylora_tui.dataset.doctor import examine
from stylora_tui.dataset.scan import ProbeCache, scan_dataset

TARGETS = {"jpg": 0.35, "png": 0.60}


def make_dataset(root: Path, count: int, suffix: str) -> None:
    rng = random.Random(0)
    base = Image.effect_noise((1024, 1536), 40).convert("RGB")
    for i in range(count):
        tint = Image.new("RGB", base.size, tuple(rng.randrange(256) for _ in range(3)))
        Image.blend(base, tint, 0.5).save(root / f"img{i:05d}.{suffix}", **({"quality": 92} if suffix == "jpg" else {}))
        (root / f"img{i:05d}.txt").write_text("mystyle, 1girl")
    data = (root / f"img00000.{suffix}").read_bytes()
    (root / f"img00000.{suffix}").write_bytes(data[: len(data) * 2 // 3])


def naive(root: Path, suffix: str) -> tuple[float, int]:
    start, broken = time.perf_counter(), 0
    for path in sorted(root.glob(f"*.{suffix}")):
        try:
            Image.open(path).convert("RGB")
        except OSError:
            broken += 1
    return time.perf_counter() - start, broken


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", nargs="?", type=int, default=200)
    parser.add_argument("--format", choices=sorted(TARGETS), default="jpg")
    args = parser.parse_args()
    count, suffix = args.count, args.format
    config = build_config({"captions": {"trigger": "mystyle"}})
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "data"
        root.mkdir()
        make_dataset(root, count, suffix)
        naive_s, naive_broken = naive(root, suffix)
        cache = ProbeCache(Path(tmp) / "cache.sqlite")
        start = time.perf_counter()
        report = examine(scan_dataset(root, cache=cache), config)
        cold_s = time.perf_counter() - start
        # Linux reports ru_maxrss in KiB; compare runs of different N to see it stay flat.
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        start = time.perf_counter()
        scan_dataset(root, cache=cache)
        warm_s = time.perf_counter() - start
    truncated = [f.path for f in report.findings if f.code == "unreadable-image"]
    print(f"{count} {suffix.upper()}s 1024x1536, one truncated")
    print(f"{'method':<34}{'seconds':>10}{'x naive':>10}")
    print(f"{'naive full decode, 1 process':<34}{naive_s:>10.2f}{1:>10.2f}")
    print(f"{'stylora check, cold cache':<34}{cold_s:>10.2f}{cold_s / naive_s:>10.2f}")
    print(f"{'stylora check, warm cache':<34}{warm_s:>10.2f}{warm_s / naive_s:>10.2f}")
    print(f"truncated reported: {truncated} (naive found {naive_broken}); main-process peak RSS {peak_mib:.0f} MiB")
    limit = TARGETS[suffix]
    target = "PASS" if cold_s <= limit * naive_s and truncated == [f"img00000.{suffix}"] else "FAIL"
    print(f"target <= {limit:.2f}x naive with the truncated file reported: {target}")


if __name__ == "__main__":
    main()
