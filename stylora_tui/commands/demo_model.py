"""`stylora-tui demo-model DIR`."""

from __future__ import annotations

from pathlib import Path

from stylora_tui.commands.output import console
from stylora_tui.errors import StyloraError


def run(args) -> int:
    folder = Path(args.dir)
    if folder.exists() and any(folder.iterdir()):
        raise StyloraError(f"{folder} exists and is not empty", "choose a new folder")
    from stylora_tui.trainer.demo_model import build_demo_model

    build_demo_model(folder)
    console().print(f"wrote the demo model to {folder}; load it with StableDiffusionXLPipeline.from_pretrained({str(folder)!r})")
    return 0
