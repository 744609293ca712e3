"""One GPU reading (from the run's gpu.sample events) as one line: the monitor's panel and
the headless view print the same."""

from __future__ import annotations

from stylora_tui.integrations.nvml import NO_GPU


def gpu_line(gpu: dict | None, error: str) -> str:
    if not gpu:
        return f"GPU: {error or NO_GPU}" if error else "GPU: waiting for the first reading"

    def part(label, key, fmt):
        value = gpu.get(key)
        return f"{label} {fmt(value)}" if value is not None else None

    parts = [
        gpu.get("name") or f"GPU {gpu.get('index', 0)}",
        part("util", "utilization_pct", lambda v: f"{v}%"),
    ]
    used, total = gpu.get("memory_used_mib"), gpu.get("memory_total_mib")
    if used is not None and total:
        parts.append(f"VRAM {used / 1024:.1f}/{total / 1024:.1f} GiB")
    parts += [
        part("", "temperature_c", lambda v: f"{v}°C"),
        part("", "power_w", lambda v: f"{v:.0f}" + (f"/{gpu['power_limit_w']:.0f} W" if gpu.get("power_limit_w") else " W")),
        part("SM", "sm_clock_mhz", lambda v: f"{v} MHz"),
        part("mem", "memory_clock_mhz", lambda v: f"{v} MHz"),
    ]
    return " · ".join(p.strip() for p in parts if p)
