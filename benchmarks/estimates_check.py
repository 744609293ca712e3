"""A measured run against what stylora-tui estimated for it: step time, peak VRAM, NVML.

    python benchmarks/estimates_check.py RUN_FOLDER [--warmup 2]

For a run that trained on a GPU (a benchmark's or a user's): the median seconds per step
after the warm-up against forecast/estimates.py's prediction for this card, the EFFICIENCY
that would have predicted it (with STEP_OVERHEAD_S as it stands), peak VRAM (torch's peak
allocation, from the train.step events) against peak_vram_gib, and the NVML readings over
the steps (utilisation, power, memory, clocks). These are the figures to correct the
estimates from; record the table in docs/BENCHMARKS.md with the card's name.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stylora_tui.config.build import build_config  # noqa: E402
from stylora_tui.config.toml_io import read_toml_file  # noqa: E402
from stylora_tui.forecast import estimates  # noqa: E402


def read_events(run: Path) -> list[dict]:
    if not (run / "events.jsonl").is_file():
        raise SystemExit(f"{run} has no events.jsonl: name a run folder whose trainer ran")
    lines = (run / "events.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def spread(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):.0f} (min {min(values):.0f}, max {max(values):.0f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="a run folder whose trainer has taken steps")
    parser.add_argument("--warmup", type=int, default=2, help="steps left out of the step time (default 2)")
    args = parser.parse_args()
    config = build_config(read_toml_file(args.run / "config.toml", "the run's config"))
    events = read_events(args.run)
    started = next((e for e in events if e["type"] in ("run.started", "run.resumed")), {})
    steps = [e for e in events if e["type"] == "train.step"]
    if len(steps) <= args.warmup + 1:
        raise SystemExit(f"{args.run} has {len(steps)} train.step events: too few to time after a warm-up of {args.warmup}")
    stamps = [e["ts"] for e in steps]
    measured = statistics.median([b - a for a, b in zip(stamps[args.warmup :], stamps[args.warmup + 1 :])])
    checkpointing = bool(started.get("gradient_checkpointing"))
    samples = [g for e in events if e["type"] == "gpu.sample" for g in e.get("gpus", ())[:1]]
    name = next((g["name"] for g in samples if g.get("name")), started.get("device", ""))
    card = estimates.card_for(name or "")
    tflop = estimates.step_tflop(config, checkpointing)
    peak = max((e["memory_mib"] for e in steps if e.get("memory_mib") is not None), default=None)
    width, height = config.resolution
    print(
        f"{args.run.name}: {width}x{height}, batch {config.training.batch_size}, {config.network.algo} dim "
        f"{config.network.dim}, checkpointing {'on' if checkpointing else 'off'}, {len(steps)} steps, "
        f"device {name or started.get('device', '?')}"
    )
    print("| figure | measured | estimated | to correct |")
    print("| --- | --- | --- | --- |")
    if card is None:
        print(f"| s/step | {measured:.3f} | - (no known card) | - |")
    else:
        predicted = tflop / (card.bf16_tflops * estimates.EFFICIENCY) + estimates.STEP_OVERHEAD_S
        compute_s = measured - estimates.STEP_OVERHEAD_S
        implied = f"EFFICIENCY {tflop / (card.bf16_tflops * compute_s):.3f}" if compute_s > 0 else "STEP_OVERHEAD_S"
        print(f"| s/step | {measured:.3f} | {predicted:.3f} ({card.name}) | {implied} |")
    estimated_gib = estimates.peak_vram_gib(config, checkpointing)
    measured_gib = f"{peak / 1024:.2f} GiB" if peak is not None else "- (no CUDA)"
    print(f"| peak VRAM (torch) | {measured_gib} | {estimated_gib:.2f} GiB | the memory model's terms |")
    print(f"| step compute | - | {tflop:.1f} TFLOP | STEP_TFLOP_1024 |")
    for label, key in (
        ("GPU utilisation %", "utilization_pct"),
        ("power W", "power_w"),
        ("memory used MiB (NVML)", "memory_used_mib"),
        ("SM clock MHz", "sm_clock_mhz"),
    ):
        print(f"| {label} | {spread([g[key] for g in samples if g.get(key) is not None])} | - | - |")


if __name__ == "__main__":
    main()
