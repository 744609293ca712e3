"""`stylora-tui demo-model DIR [--full-tree] [--single-file FILE] [--v-prediction]`."""

from __future__ import annotations

from pathlib import Path

from stylora_tui.errors import StyloraError
from stylora_tui.views.console import console


def run(args) -> int:
    folder = Path(args.dir)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise StyloraError(f"{folder} exists and is not empty", "choose a new folder")
    single = Path(args.single_file) if args.single_file else None
    if single is not None and single.exists():
        raise StyloraError(f"{single} already exists", "choose a new file name; nothing is overwritten")
    if single is not None and single.suffix.lower() != ".safetensors":
        raise StyloraError(f"{single.name} must end in .safetensors", f"e.g. {single.with_suffix('.safetensors').name}")
    from stylora_tui.trainer.demo_model import DEMO_OVERRIDES, FULL_TREE_OVERRIDES, V_PREDICTION_SCHEDULER, build_model

    overrides: dict[str, dict] = dict(FULL_TREE_OVERRIDES if args.full_tree else DEMO_OVERRIDES)
    if args.v_prediction:
        overrides["scheduler"] = V_PREDICTION_SCHEDULER
    build_model(folder, overrides)
    out = console()
    kind = "full-module-tree" if args.full_tree else "demo"
    out.print(
        f"wrote the {kind} model to {folder}; load it with StableDiffusionXLPipeline.from_pretrained({str(folder)!r})",
        markup=False,
    )
    if single is not None:
        from stylora_tui.trainer.single_file import write_single_file

        write_single_file(folder, single, v_prediction=args.v_prediction, zero_terminal_snr=args.v_prediction)
        marks = " with the v_pred and ztsnr marker keys" if args.v_prediction else ""
        out.print(f"wrote its single-file twin (original SGM layout{marks}) to {single}", markup=False)
    return 0
