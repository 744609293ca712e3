"""Dataset scan at scale: progress streams per image, memory grows only with records.

    python benchmarks/scan_scale.py [N ...]      (default: 1000 10000)

Small (256x384) noise JPEGs with captions, cold cache; prints seconds, progress
callbacks and the peak RSS of this process for each N.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from stylora_tui.dataset.scan import ProbeCache, scan_dataset


def measure(count: int) -> tuple[float, int, int]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "data"
        root.mkdir()
        base = Image.effect_noise((256, 384), 40).convert("RGB")
        for i in range(count):
            base.save(root / f"i{i:05d}.jpg", quality=85)
            (root / f"i{i:05d}.txt").write_text("mystyle, tag")
        calls: list[int] = []
        start = time.perf_counter()
        scan = scan_dataset(root, cache=ProbeCache(Path(tmp) / "cache.sqlite"), progress=lambda done, total: calls.append(done))
        assert len(scan.usable) == count
        return time.perf_counter() - start, len(calls), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def main() -> None:
    counts = [int(a) for a in sys.argv[1:]] or [1000, 10000]
    print(f"{'images':>8} {'seconds':>8} {'callbacks':>10} {'peak RSS MiB':>13}")
    for count in counts:
        seconds, callbacks, rss = measure(count)
        print(f"{count:>8} {seconds:>8.1f} {callbacks:>10} {rss:>13}")


if __name__ == "__main__":
    main()
