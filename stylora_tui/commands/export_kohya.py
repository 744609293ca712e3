"""`stylora-tui export-kohya RUN_OR_CONFIG -o DIR`."""

from __future__ import annotations

import shlex
from pathlib import Path

from stylora_tui.config.build import build_config
from stylora_tui.config.toml_io import read_toml_file
from stylora_tui.dataset.layout import repeat_folders
from stylora_tui.display import printable
from stylora_tui.errors import RunError
from stylora_tui.interop.kohya_export import captions_without, write_export
from stylora_tui.run.catalog import locate_run
from stylora_tui.views.console import console


def run(args) -> int:
    source = Path(args.source)
    # sd-scripts writes its adapters beside the exported configs, never into a run's own
    # output/ (same names: it would replace stylora-tui's adapters).
    output_dir = (Path(args.output) / "sd-scripts-output").absolute()
    if source.is_file():
        config_path, name = source, source.stem
    else:
        run_dir = locate_run(args.source, args.runs_dir)
        config_path, name = run_dir.config, run_dir.name
        if not config_path.is_file():
            raise RunError(f"run {name!r} has no config.toml", "the run was never launched; export its preset file instead")
    config = build_config(read_toml_file(config_path, "config"), source=str(config_path))
    written = write_export(config, name, Path(args.output), output_dir)
    out = console()
    for path in written:
        out.print(f"wrote {printable(path)}", markup=False)
    trigger = config.captions.trigger.strip()
    dataset = Path(config.dataset.path) if config.dataset.path else None
    if trigger and dataset is not None:
        lacking = sum(captions_without(folder, config.dataset.caption_extension, trigger)
                      for folder, _ in repeat_folders(dataset, config.dataset.repeats)) if dataset.is_dir() else 0
        if lacking:
            out.print(f"note: {lacking} caption(s) lack the trigger {printable(trigger)!r} while others have it: sd-scripts "
                      "cannot add it to those alone (stylora-tui does); add it to them before training with sd-scripts", markup=False)
    out.print("Train with sd-scripts: accelerate launch sdxl_train_network.py "
              f"--config_file {shlex.quote(str(written[0]))} --dataset_config {shlex.quote(str(written[1]))}", markup=False)
    return 0
