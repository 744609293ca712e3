"""Runs as the trainer leaves them, made on the spot for judging: a dataset of one generated
style (choose/style_set.py), the run's manifest and config, saved adapters, validation losses
and preview sets whose style is a known share of the way from another style to the
dataset's, or planted copies of a training picture."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from stylora_tui.choose.style_set import painting, planted, style, toward
from stylora_tui.run.catalog import create_run
from stylora_tui.run.layout import RunDir

TRAIN_SIZE, PREVIEW_SIZE = (256, 384), (208, 304)
DATASET_STYLE, BASE_STYLE = style(7), style(8)
KINDS = ("dataset", "other subject", "other subject", "no trigger")


@dataclass(frozen=True)
class Epoch:
    epoch: int
    share: float  # how far the previews are from the base's style to the dataset's
    loss: float | None = None
    copy_of: int | None = None  # a training picture's index: the first preview copies it
    strength: float = 1.0
    saved: bool = True  # an adapter file for this epoch


def write_dataset(folder: Path, count: int = 30, look=DATASET_STYLE) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        painting(look, seed=index, size=TRAIN_SIZE).save(folder / f"{index:02d}.png")
        (folder / f"{index:02d}.txt").write_text(f"mystyle, picture {index}", encoding="utf-8")
    return folder


def judged_run(root: Path, name: str, dataset: Path, epochs: list[Epoch], style_model: str = "") -> RunDir:
    run = create_run(root, name)
    run.config.write_text(f'schema_version = 1\n\n[samples]\nstyle_model = "{style_model}"\n', encoding="utf-8")
    files = {
        path.name: {"sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "size": path.stat().st_size, "caption": ""}
        for path in sorted(dataset.glob("*.png"))
    }
    manifest = {"v": 1, "dataset": str(dataset), "model": {"path": "demo", "sha256": ""}, "files": files}
    run.dataset_manifest.write_text(json.dumps(manifest), encoding="utf-8")
    last = max(e.epoch for e in epochs)
    run.status_file.write_text(json.dumps({"state": "finished", "step": last * 10, "total_steps": last * 10, "epoch": last}))
    lines = []
    for e in epochs:
        write_previews(run, e, dataset)
        if e.saved:
            (run.output / f"{name}-e{e.epoch:04d}.safetensors").write_bytes(f"{name} epoch {e.epoch}".encode())
        if e.loss is not None and e.strength == 1.0:
            lines.append({"v": 1, "ts": 1.0, "type": "validation.loss", "epoch": e.epoch, "loss": e.loss})
    run.events.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return run


def write_previews(run: RunDir, e: Epoch, dataset: Path) -> Path:
    from PIL import Image

    label = f"e{e.epoch:04d}" if e.strength == 1.0 else f"e{e.epoch:04d}-at-{e.strength:g}"
    folder = run.samples / label
    folder.mkdir(parents=True, exist_ok=True)
    look = toward(BASE_STYLE, DATASET_STYLE, e.share)
    names = []
    for index, _ in enumerate(KINDS):
        name = f"{index + 1:02d}.png"
        if index == 0 and e.copy_of is not None:
            with Image.open(dataset / f"{e.copy_of:02d}.png") as source:
                planted(source.convert("RGB"), "re-rendered", PREVIEW_SIZE, seed=e.epoch).save(folder / name)
        else:
            painting(look, seed=900 + index, size=PREVIEW_SIZE).save(folder / name)
        names.append(name)
    record = {
        "epoch": e.epoch,
        "step": e.epoch * 10,
        "prompts": [f"prompt {kind}" for kind in KINDS],
        "kinds": list(KINDS),
        "images": names,
        "strength": e.strength,
    }
    (folder / "prompts.json").write_text(json.dumps(record), encoding="utf-8")
    return folder
