"""Preparing a run: validated config, dataset checked, manifest written, run dir created.

Shared by `stylora-tui train` and the wizard's launch, so both refuse the same mistakes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stylora_tui import paths
from stylora_tui.config.build import build_config
from stylora_tui.config.schema import Config
from stylora_tui.config.toml_io import config_to_dict, config_to_toml, read_toml_file
from stylora_tui.dataset.doctor import DoctorReport, examine
from stylora_tui.dataset.scan import scan_dataset
from stylora_tui.errors import DatasetError
from stylora_tui.findings import Severity
from stylora_tui.integrations.machine import Machine
from stylora_tui.launch import preflight
from stylora_tui.model.files import check_model_path, check_vae_path, resolve_prediction
from stylora_tui.model.hashes import DEMO, model_hash
from stylora_tui.run.catalog import create_run
from stylora_tui.run.layout import RunDir
from stylora_tui.run.manifest import build_manifest, write_manifest


@dataclass(frozen=True)
class PreparedRun:
    run: RunDir
    config: Config
    report: DoctorReport


def with_defaults(config: Config) -> Config:
    """The demo model trains on the embedded examples unless a dataset is given."""
    if config.model.path == DEMO and not config.dataset.path:
        data = config_to_dict(config)
        data["dataset"]["path"] = str(paths.examples_dir() / "demo-style")
        return build_config(data)
    return config


def prepare_run(
    config: Config, root: Path, name: str | None, tokenizer=None, progress=None, *, machine: Machine, allow_cpu: bool = False
) -> PreparedRun:
    """Check everything that can be checked before a GPU minute is spent, then create the run.

    `machine` is where it will train (`integrations.nvml.this_machine()`); `allow_cpu` accepts
    training a real model on a machine without a GPU (--allow-cpu, the wizard's confirmation)."""
    config = with_defaults(config)
    model = check_model_path(config.model.path)
    check_vae_path(config.model.vae)
    prediction = resolve_prediction(model, config.model.prediction_type, config.training.zero_terminal_snr)
    if not config.dataset.path:
        raise DatasetError("no dataset given", "pass --dataset DIR (a folder of images with .txt captions)")
    dataset = Path(config.dataset.path).expanduser().absolute()
    scan = scan_dataset(dataset, config.dataset.caption_extension, config.dataset.repeats, progress=progress)
    report = examine(scan, config, tokenizer)
    errors = [f for f in report.findings if f.severity is Severity.ERROR]
    if errors:
        first = errors[0]
        where = f"{first.path}: " if first.path else ""
        raise DatasetError(
            f"the dataset has {len(errors)} error(s), e.g. {where}{first.message}",
            f"run `stylora-tui check {dataset}` for all of them, fix them, then start again",
        )
    data = config_to_dict(config)
    data["model"]["path"] = model
    data["dataset"]["path"] = str(dataset)
    # The frozen config says what was detected, so a resume trains exactly the same way.
    data["model"]["prediction_type"] = prediction.type
    data["training"]["zero_terminal_snr"] = prediction.zero_terminal_snr
    # Validate again knowing the run's length: warmup must be shorter than it.
    config = build_config(data, total_steps=report.steps.total_steps)
    preflight.refuse(preflight.check(config, machine, report.steps.total_steps), allow_cpu)
    run = create_run(root, name)
    run.config.write_text(
        config_to_toml(config, header=f"Frozen config of {run.name}: the trainer reads this file; edit a preset instead."),
        encoding="utf-8",
    )
    write_manifest(run, build_manifest(scan, model, model_hash(model)))
    return PreparedRun(run, config, report)


def frozen_config(run: RunDir) -> Config:
    return build_config(read_toml_file(run.config, "the run's config"), source=str(run.config))
