"""What a session says of itself: the adapter's training facts (its metadata) and the
run.started (or run.resumed) event."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from stylora_tui.config.schema import Config
from stylora_tui.dataset.scan import DatasetScan
from stylora_tui.model.hashes import model_hash
from stylora_tui.model.metadata import TrainingFacts, tag_frequency
from stylora_tui.run import events as ev
from stylora_tui.run.layout import RunDir
from stylora_tui.trainer.optim import warmup_steps

if TYPE_CHECKING:
    from stylora_tui.trainer.loading import BaseModel
    from stylora_tui.trainer.session import Data, Runtime, Start, Training


def training_facts(run: RunDir, config: Config, base: BaseModel, data: Data, training: Training, start: Start) -> TrainingFacts:
    """What the adapter's metadata says of its training; a resumed run keeps its session."""
    steps, scan = data.steps, data.scan
    return TrainingFacts(
        run_name=run.name,
        session_id=start.previous.get("session_id") or uuid.uuid4().hex[:16],
        started_at=start.previous.get("started_at") or time.time(),
        num_images=sum(i.repeats for i in data.items),
        batches_per_epoch=steps.batches_per_epoch,
        total_steps=steps.total_steps,
        warmup_steps=warmup_steps(config, steps.total_steps),
        base_model_name=Path(str(config.model.path)).name,
        base_model_hash=model_hash(config.model.path) if config.model.path == "demo" else model_hash(base.source),
        vae_name=Path(config.model.vae).name if config.model.vae else "",
        tag_frequency=tag_frequency([(_folder(i.rel, scan.root), i.caption.text if i.caption else "") for i in scan.usable]),
        buckets=tuple((b.width, b.height, b.count) for b in steps.buckets),
        dataset_dirs=_dataset_dirs(scan),
        prediction_type=base.prediction.type,
        zero_terminal_snr=base.prediction.zero_terminal_snr,
        gradient_checkpointing=training.gradient_checkpointing,
    )


def started_event(
    run: RunDir, config: Config, runtime: Runtime, data: Data, training: Training, start: Start, base: BaseModel
) -> ev.RunStarted:
    kind = ev.RunResumed if start.checkpoint is not None else ev.RunStarted
    return kind(
        run=run.name,
        step=start.position.step,
        epoch=start.position.epoch,
        total_steps=data.steps.total_steps,
        epochs=config.training.epochs,
        steps_per_epoch=data.steps.steps_per_epoch,
        images=len(data.items),
        device=str(runtime.device),
        mixed_precision=runtime.mixed_precision,
        modules=len(training.adapter.modules_by_key),
        trainable_params=training.adapter.trainable_parameters(),
        gpus=runtime.group.world,
        checkpoint=start.checkpoint.name if start.checkpoint else None,
        prediction=base.prediction.type,
        zero_terminal_snr=base.prediction.zero_terminal_snr,
        random_crop=config.dataset.random_crop,
        gradient_checkpointing=training.gradient_checkpointing,
    )


def _folder(rel: str, root: Path) -> str:
    return rel.split("/", 1)[0] if "/" in rel else root.name


def _dataset_dirs(scan: DatasetScan) -> dict:
    dirs: dict[str, dict] = {}
    for image in scan.usable:
        entry = dirs.setdefault(_folder(image.rel, scan.root), {"n_repeats": image.repeats, "img_count": 0})
        entry["img_count"] += 1
    return dirs
