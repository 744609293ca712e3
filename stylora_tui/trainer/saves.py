"""What a run leaves behind, each written safely: resumable checkpoints (complete before
anything older goes), adapters (verified after each save), samples and validation losses.

A checkpoint that cannot be written is said loudly (event, status); the run then fails
with the reason unless the user chose to train on without it, and a stop (`required`)
never claims success without one.
"""

from __future__ import annotations

import errno
import os
import shutil
import time
from pathlib import Path

import torch

from stylora_tui.errors import StyloraError
from stylora_tui.model.metadata import adapter_metadata
from stylora_tui.run import events as ev
from stylora_tui.trainer import checkpoint as ckpt
from stylora_tui.trainer.judging import Judging
from stylora_tui.trainer.output import DTYPES, save_adapter, verify_adapter
from stylora_tui.trainer.seams import Reporter
from stylora_tui.trainer.session import Session


class Saves:
    def __init__(self, session: Session, reporter: Reporter) -> None:
        self.session, self.reporter = session, reporter
        self.expected_shapes = expected_shapes(session.adapter)
        self.last_checkpoint_time = time.time()
        # Only where previews are made (rank 0, samples on): it may fetch the style model.
        self.judging = Judging(session.run, session.config, reporter) if session.sampler is not None else None

    def checkpoint_due(self) -> bool:
        minutes = self.session.config.saving.checkpoint_every_minutes
        return bool(minutes) and time.time() - self.last_checkpoint_time >= minutes * 60

    def checkpoint(self, position: ckpt.Position, required: bool = False, best_effort: bool = False) -> Path | None:
        """Every process calls this (each saves its own RNG); rank 0 returns the folder.
        `best_effort`: a failure is said and training goes on (the final checkpoint: the
        adapter it would protect is written already)."""
        s, group = self.session, self.session.group
        done = ckpt.complete_at(s.run.checkpoints, position.step)
        if done is not None:
            # This step is saved already (a timed checkpoint on an epoch's last step): the
            # state is the same, and a second save would only risk the complete one.
            group.barrier()
            return done
        group.check_replicas(s.adapter)
        needed, why = ckpt.space_needed(s.run.checkpoints, s.adapter)
        free = shutil.disk_usage(s.run.path).free
        (short,) = group.agree_any([free < needed])
        problem = (
            f"the disk is nearly full ({free / 2**20:.1f} MiB free, {needed / 2**20:.1f} MiB needed: {why})" if short else ""
        )
        path = None
        if not problem:
            try:
                path = ckpt.save_checkpoint(
                    s.run.checkpoints,
                    position,
                    s.adapter,
                    s.optimizer,
                    s.scheduler,
                    s.generator,
                    s.config.saving.keep_checkpoints,
                    {"session_id": s.facts.session_id, "started_at": s.facts.started_at},
                    group.rank,
                    group.barrier,
                )
            except OSError as exc:
                problem = disk_problem(exc)
        self.last_checkpoint_time = time.time()
        if problem:
            self.checkpoint_failed(position, problem, required, best_effort)
            return None
        if path is not None:
            self.reporter.emit(
                ev.CheckpointSaved(step=position.step, epoch=position.epoch, path=str(path.relative_to(s.run.path)))
            )
            self.reporter.status(force=True, checkpoint_error="")
        group.barrier()
        return path

    def checkpoint_failed(self, position: ckpt.Position, problem: str, required: bool, best_effort: bool = False) -> None:
        run = self.session.run
        newest = ckpt.latest_checkpoint(run.checkpoints)
        resumes = f"step {newest.name.removeprefix(ckpt.PREFIX).lstrip('0') or '0'}" if newest else "the start"
        message = f"checkpoint at step {position.step} could not be written: {problem}"
        self.reporter.emit(ev.CheckpointFailed(step=position.step, epoch=position.epoch, reason=problem))
        self.reporter.status(force=True, checkpoint_error=message)
        if required or not (best_effort or self.session.config.saving.continue_without_checkpoints):
            raise StyloraError(
                message,
                f"free disk space in {run.path.parent}, then `stylora-tui --resume {run.name}` "
                f"continues from {resumes} (or set saving.continue_without_checkpoints = true)",
            )
        why = "the adapter is saved" if best_effort else "saving.continue_without_checkpoints"
        self.reporter.emit(ev.Log(message=f"{message}; training goes on ({why}); a resume would start from {resumes}"))

    def adapter(self, epoch: int, step: int, name: str) -> Path | None:
        """Rank 0 writes the adapter; the others wait for it."""
        s = self.session
        if not s.group.is_main:
            s.group.barrier()
            return None
        metadata = adapter_metadata(s.config, s.facts, epoch=epoch, step=step)
        path = save_adapter(s.adapter.kohya_state_dict(DTYPES[s.config.saving.precision]), metadata, s.run.output / name)
        modules = verify_adapter(path, self.expected_shapes)
        self.reporter.emit(
            ev.OutputSaved(
                epoch=epoch, step=step, path=str(path.relative_to(s.run.path)), modules=modules, bytes=path.stat().st_size
            )
        )
        s.group.barrier()
        return path

    def samples(self, label: str, epoch: int, step: int, adapter_file: Path | None = None) -> None:
        """Previews from `adapter_file` (the save just written), else from the weights of now;
        those of a save judged (copy alarm, style score, the suggestion so far)."""
        sampler = self.session.sampler
        rendered = sampler is not None and sampler.render(label, epoch, step, adapter_file) is not None
        if rendered and adapter_file is not None and self.judging is not None:
            self.judging.judge(label)
        self.session.group.barrier()

    def strengths(self) -> None:
        """After the last epoch's previews: the suggested epoch at the other strengths."""
        sampler = self.session.sampler
        if sampler is not None and self.judging is not None:
            self.judging.strengths(sampler.render)
        self.session.group.barrier()

    def validation(self, epoch: int, step: int) -> None:
        validator = self.session.validator
        if validator is not None:
            loss = validator.loss()
            self.reporter.emit(ev.ValidationLoss(epoch=epoch, step=step, loss=round(loss, 6), images=len(validator.items)))
        self.session.group.barrier()


def expected_shapes(adapter) -> dict:
    """(down, up) shapes each module must have, from the base model's own module."""
    shapes = {}
    for key, module in adapter.modules_by_key.items():
        original = module.lora.org_module[0]
        rank = module.lora.lora_dim
        if isinstance(original, torch.nn.Conv2d):
            kernel = tuple(original.kernel_size)
            shapes[key] = ((rank, original.in_channels, *kernel), (original.out_channels, rank, 1, 1))
        else:
            shapes[key] = ((rank, original.in_features), (original.out_features, rank))
    return shapes


def disk_problem(exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"the disk is full ({os.strerror(exc.errno)})"
    return f"{exc.strerror or exc} ({exc.filename or 'no file'})"
