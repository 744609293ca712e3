"""Parameters and file size of an adapter, without torch: from the shipped module table.

The table (data/sdxl/modules.json, written by scripts/build_module_table.py) lists every
module kohya's LoCon sets can train, with its shape. Which ones a config trains follows
the same rule as the trainer; tests hold the two equal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

from stylora_tui import paths
from stylora_tui.config.schema import Config

BYTES = {"fp16": 2, "bf16": 2, "fp32": 4}
HEADER_BYTES = 8 + 10_000


@lru_cache(maxsize=1)
def _table() -> dict:
    return json.loads((paths.package_dir() / "data" / "sdxl" / "modules.json").read_text())


@dataclass(frozen=True)
class Estimate:
    modules: int
    trainable_params: int
    output_bytes: int


def trained_groups(config: Config) -> set[str]:
    """Which module groups a config trains: the trainer's rule, in table terms."""
    net = config.network
    groups = {"transformer"}
    if net.preset == "full" and net.algo == "locon":
        groups.add("conv-block")
    if net.trains_text_encoders:
        groups |= {"te1", "te2"}
    return groups


def estimate(config: Config) -> Estimate:
    """From the shipped table of the standard SDXL (or the demo) architecture."""
    return estimate_rows(_table()["demo" if config.model.path == "demo" else "sdxl"], config)


def estimate_rows(rows, config: Config) -> Estimate:
    """Rows are [kohya key, group, in, out, kernel (0 = linear)], every trainable module."""
    net = config.network
    groups = trained_groups(config)
    params = tensor_bytes = count = 0
    header = HEADER_BYTES
    for key, group, in_dim, out_dim, kernel in rows:
        if group not in groups:
            continue
        rank = net.conv_dim if kernel == 3 else net.dim
        module_params = rank * in_dim * (kernel * kernel if kernel else 1) + out_dim * rank
        params += module_params
        tensor_bytes += (module_params + 1) * BYTES[config.saving.precision]
        header += 3 * (len(key) + 90)
        count += 1
    return Estimate(count, params, tensor_bytes + header)
