"""Which base model a kohya_ss preset was made for: a preset for SD 1.x/2.x imports only
what carries over to SDXL, and says so first."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stylora_tui.interop.kohya_import import KohyaImport


# Model names of SD 1.x/2.x bases: runwayml/stable-diffusion-v1-5, v1-5-pruned, sd15, v2-1_768...
SD1_SD2_NAME = re.compile(
    r"stable-diffusion-(v1|2)|(?<![a-z0-9])sd[-_ ]?(1[.-]?[45x]|2[.-]?[01x])(?![0-9])|v1[-.]5|v2[-.][01]", re.IGNORECASE
)


def not_sdxl(raw: dict, result: KohyaImport) -> None:
    """A preset made for SD 1.x/2.x imports only what carries over to SDXL: its base model
    cannot train an SDXL adapter and its resolution is SD 1.x's, so both are left out, and
    the import says so first (its learning rates were tuned for another model too)."""
    model = raw.get("pretrained_model_name_or_path")
    if raw.get("sdxl") is False:
        why = "sdxl = false"
    elif raw.get("v2") is True:
        why = "v2 = true: an SD 2.x preset"
    elif isinstance(model, str) and raw.get("sdxl") is not True and SD1_SD2_NAME.search(model):
        why = f"its model {model!r} is SD 1.x/2.x"
    else:
        return
    for section, key, gui_key in (
        ("model", "path", "pretrained_model_name_or_path"),
        ("dataset", "resolution_px", "max_resolution"),
    ):
        if key in result.data.get(section, {}):
            del result.data[section][key]
            result.unmapped.append(
                (gui_key, raw.get(gui_key), "an SD 1.x/2.x setting: left out (SDXL trains at 1024 px on an SDXL base)")
            )
    result.warnings.append(
        f"this preset was made for SD 1.x/2.x ({why}), not SDXL: its network and optimizer settings were "
        "imported, its base model and resolution left out; its learning rates were tuned for SD 1.x/2.x, "
        "compare them with a shipped SDXL preset (`stylora-tui presets animagine-style`)"
    )
