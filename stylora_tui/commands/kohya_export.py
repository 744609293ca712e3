"""`stylora-tui export-kohya RUN_OR_CONFIG -o DIR`."""

from __future__ import annotations

from pathlib import Path

from stylora_tui.adapters.kohya import write_export
from stylora_tui.commands.output import console
from stylora_tui.core.config import build_config, read_toml_file
from stylora_tui.core.rundir import locate_run
from stylora_tui.errors import RunError


def run(args) -> int:
    source = Path(args.source)
    if source.is_file():
        config_path, name, output_dir = source, source.stem, Path("output").absolute()
    else:
        run_dir = locate_run(args.source, args.runs_dir)
        config_path, name, output_dir = run_dir.config, run_dir.name, run_dir.output.absolute()
        if not config_path.is_file():
            raise RunError(f"run {name!r} has no config.toml", "the run was never launched; export its preset file instead")
    config = build_config(read_toml_file(config_path, "config"), source=str(config_path))
    written = write_export(config, name, Path(args.output), output_dir)
    out = console()
    for path in written:
        out.print(f"wrote {path}")
    out.print(
        f"Train with sd-scripts: accelerate launch sdxl_train_network.py "
        f"--config_file {written[0]} --dataset_config {written[1]}"
    )
    return 0
