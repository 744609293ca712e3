"""`stylora-tui export-kohya RUN_OR_CONFIG -o DIR`."""

from __future__ import annotations

import shlex
from dataclasses import replace
from pathlib import Path

from stylora_tui.config.build import build_config
from stylora_tui.config.schema import Config
from stylora_tui.config.toml_io import read_toml_file
from stylora_tui.dataset.layout import repeat_folders
from stylora_tui.display import printable
from stylora_tui.errors import ModelError, RunError
from stylora_tui.interop.kohya_export import captions_with, write_export
from stylora_tui.model.hashes import DEMO
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
    config, missing = for_sd_scripts(build_config(read_toml_file(config_path, "config"), source=str(config_path)))
    written = write_export(config, name, Path(args.output), output_dir)
    out = console()
    for path in written:
        out.print(f"wrote {printable(path)}", markup=False)
    for note in trigger_notes(config):
        out.print(note, markup=False)
    if missing:
        out.print("not ready to train yet: " + "; ".join(missing), markup=False)
        return 0
    out.print(
        "Train with sd-scripts: accelerate launch sdxl_train_network.py "
        f"--config_file {shlex.quote(str(written[0]))} --dataset_config {shlex.quote(str(written[1]))}",
        markup=False,
    )
    return 0


def for_sd_scripts(config: Config) -> tuple[Config, list[str]]:
    """The config as sd-scripts must get it: the base model as a local file (sd-scripts knows
    neither our known-base names nor single files on the hub) and the prediction type read
    from it ("auto" is ours: sd-scripts trains what it is not told as epsilon). Also what
    the user must still fill in before training."""
    from stylora_tui.integrations import hub
    from stylora_tui.model.files import resolve_prediction

    missing = []
    model = config.model.path
    if not model:
        missing.append("the config names no base model: set pretrained_model_name_or_path in the config file")
    elif model == DEMO:
        missing.append("'demo' is stylora-tui's embedded test model: set pretrained_model_name_or_path to a real SDXL checkpoint")
        model = ""
    else:
        ref = hub.parse(model)
        if ref is not None:
            local = hub.cached(ref)
            if local is None:
                raise ModelError(
                    f"{model} is not downloaded here, and sd-scripts needs the base model as a local file",
                    f"download it first (`stylora-tui plan --model {model}` does), then export again",
                )
            model = str(local)
    if not config.dataset.path:
        missing.append("the config names no dataset: set image_dir in the dataset file")
    prediction_type, ztsnr = config.model.prediction_type, config.training.zero_terminal_snr
    if prediction_type == "epsilon" and ztsnr == "auto":
        ztsnr = False
    if "auto" in (prediction_type, ztsnr):
        if model and Path(model).expanduser().exists():
            found = resolve_prediction(model, prediction_type, ztsnr)
            prediction_type, ztsnr = found.type, found.zero_terminal_snr
        elif model:
            missing.append(
                'model.prediction_type is "auto" and the base model is not on this machine to read: add '
                "v_parameterization = true (and zero_terminal_snr = true) to the config file if it predicts v"
            )
    resolved = replace(
        config,
        model=replace(config.model, path=model, prediction_type=prediction_type),
        training=replace(config.training, zero_terminal_snr=ztsnr),
    )
    return resolved, missing


def trigger_notes(config: Config) -> list[str]:
    """Folders where some captions hold the trigger and others lack it: sd-scripts cannot add
    it to those alone (stylora-tui does). Where none holds it, the export's caption_prefix adds it."""
    trigger = config.captions.trigger.strip()
    dataset = Path(config.dataset.path).expanduser() if config.dataset.path else None
    if not trigger or dataset is None or not dataset.is_dir():
        return []
    notes = []
    for folder, _ in repeat_folders(dataset, config.dataset.repeats):
        holding, total = captions_with(folder, config.dataset.caption_extension, trigger)
        if 0 < holding < total:
            notes.append(
                f"note: {total - holding} of {total} caption(s) in {printable(folder)} lack the trigger "
                f"{printable(trigger)!r} while the others have it: sd-scripts cannot add it to those alone "
                "(stylora-tui does); add it to them before training with sd-scripts"
            )
    return notes
