"""The step loop: read top to bottom.

Each epoch regenerates its batch order from (seed, epoch), so a resumed run skips to its
position and continues exactly; each optimizer step accumulates `gradient_accumulation_steps`
batches. Intents (stop, save now, sample now) are honoured only between optimizer steps,
never mid-write; a stop saves a checkpoint and returns. Noise and timesteps come from the
run's own generator (saved in checkpoints), drawn on the CPU, so a resumed run draws
exactly the numbers an uninterrupted one would.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from stylora_tui.errors import StyloraError
from stylora_tui.run import control
from stylora_tui.run import events as ev
from stylora_tui.run.status import FINISHED, STOPPED
from stylora_tui.trainer import checkpoint as ckpt
from stylora_tui.trainer import faults
from stylora_tui.trainer.data import caption_for_step, epoch_batches, random_crop
from stylora_tui.trainer.saves import Saves
from stylora_tui.trainer.seams import Intents, Reporter
from stylora_tui.trainer.session import Session
from stylora_tui.trainer.step import denoising_loss
from stylora_tui.trainer.transfer import pinned, to_device

NONFINITE_LIMIT = 5


@dataclass(frozen=True)
class HostBatch:
    crops: list[tuple[int, int]]
    latents: torch.Tensor | None  # the cached latents; None: encode them on the loop's thread
    time_ids: torch.Tensor
    token_ids: tuple | None  # both tokenizers' ids of the step's captions; None: static embeddings


@dataclass(frozen=True)
class Outcome:
    state: str  # FINISHED or STOPPED
    step: int
    reason: str = ""


class Loop:
    def __init__(self, session: Session, intents: Intents, reporter: Reporter) -> None:
        self.s, self.intents, self.reporter = session, intents, reporter
        self.saves = Saves(session, reporter)
        self.train_te = session.config.network.trains_text_encoders
        self.alphas_cumprod = session.base.noise_scheduler.alphas_cumprod.to(session.device)
        # Listed once: adapter.parameters() walks ~1000 modules, ~20 ms of Python a step.
        self.trainable = [p for group in session.optimizer.param_groups for p in group["params"]]
        # AdamW steps flat tensors the gradients are gathered into (flat_adamw.py); other
        # optimizers step the parameters themselves.
        optimizer = getattr(session.optimizer, "optimizer", session.optimizer)  # accelerate's wrapper
        self.gather = getattr(optimizer, "gather", lambda: self.trainable)

    # ------------------------------------------------------------ predicates

    def needs_adapter(self, epoch: int) -> bool:
        every = self.s.config.saving.every_n_epochs
        return bool(every) and epoch % every == 0 and epoch < self.s.config.training.epochs

    def needs_samples(self, epoch: int) -> bool:
        every = self.s.config.samples.every_n_epochs
        return bool(every) and (epoch % every == 0 or epoch == self.s.config.training.epochs)

    # ------------------------------------------------------------ the loop

    def run(self) -> Outcome:
        s, tr, group = self.s, self.s.config.training, self.s.group
        position = s.position
        step, train_s, epoch = position.step, position.train_s, position.epoch
        nonfinite, rate = 0, None
        for epoch in range(position.epoch, tr.epochs + 1):
            batches = group.shard(epoch_batches(s.items, tr.batch_size, tr.seed, epoch))
            index = position.batch if epoch == position.epoch else 0
            while index < len(batches) and step < s.total_steps:
                here = ckpt.Position(step, epoch, index, train_s)
                reason = self.intents.stop_reason()
                wanted = self.intents.wanted()
                stop, save_now, sample_now = group.agree_any(
                    [bool(reason), control.SAVE_NOW in wanted, control.SAMPLE_NOW in wanted]
                )
                if stop:
                    return self.stop(here, reason or "stop requested")
                self.handle_intents(here, save_now, sample_now)
                began = time.perf_counter()
                # One optimizer step: up to `gradient_accumulation_steps` batches. Counted
                # here rather than by accelerate, whose counter a checkpoint does not hold.
                micro_steps = min(tr.gradient_accumulation_steps, len(batches) - index)
                losses = []
                for micro in range(micro_steps):
                    # Several GPUs: gradients are averaged in the last micro-batch's backward.
                    with group.accumulating(s.replicated, last=micro == micro_steps - 1):
                        loss = self.batch_loss(batches, index, epoch)
                        # A non-finite loss gives non-finite gradients: the whole step is skipped below.
                        s.accelerator.backward(loss / micro_steps)
                    losses.append(loss.detach())
                    index += 1
                mean_loss, finite = step_values(losses)
                (nonfinite_here,) = group.agree_any([not finite])
                self.optimizer_step(finite=not nonfinite_here)
                if nonfinite_here:
                    nonfinite += 1
                    self.reporter.emit(ev.StepSkipped(step=step + 1, epoch=epoch, reason="the loss was not finite (NaN or inf)"))
                    if nonfinite >= NONFINITE_LIMIT:
                        self.roll_back_and_fail(step)
                    continue
                nonfinite = 0
                step += 1
                elapsed = time.perf_counter() - began
                train_s += elapsed
                rate = 1 / elapsed if rate is None else 0.9 * rate + 0.1 / elapsed
                self.report_step(step, epoch, group.mean_across(mean_loss), rate, train_s)
                faults.point("train.step")
                if step >= s.total_steps:
                    break
                (due,) = group.agree_any([self.saves.checkpoint_due()])
                if due:
                    self.saves.checkpoint(ckpt.Position(step, epoch, index, train_s))
            if step >= s.total_steps or epoch == tr.epochs:
                break
            self.reporter.emit(ev.EpochFinished(epoch=epoch, step=step))
            saved = None
            if self.needs_adapter(epoch):
                saved = self.saves.adapter(epoch, step, f"{s.run.name}-e{epoch:04d}.safetensors")
                self.saves.validation(epoch, step)
                self.saves.checkpoint(ckpt.Position(step, epoch + 1, 0, train_s))
            if self.needs_samples(epoch):
                self.saves.samples(f"e{epoch:04d}", epoch, step, saved)
        return self.finish(ckpt.Position(step, epoch, index, train_s))

    def host_batch(self, batch: tuple[int, ...], epoch: int, batch_index: int) -> HostBatch:
        """The batch's host-side inputs, a pure function of (batch, epoch, index), prepared on
        the loop's thread. A thread preparing the next batch ahead was tried: on a CPU it
        fought the step's OpenMP team for the cores (a 2-core run crawled), and on a GPU it
        would hide at most ~1.5 % of a step, so it is not worth a path only a GPU runs."""
        s, tr = self.s, self.s.config.training
        items = [s.items[i] for i in batch]
        if s.config.dataset.random_crop:
            crops = [random_crop(item, tr.seed, epoch, batch_index, slot) for slot, item in enumerate(items)]
            cached = None  # encoded on the loop's thread: the VAE runs there
        else:
            crops = [item.center_crop for item in items]
            cached = [s.latents.cache.get(item, crop) for item, crop in zip(items, crops)]
        latents = pinned(torch.stack(cached), s.device) if cached and all(c is not None for c in cached) else None
        time_ids = pinned(torch.tensor([item.time_ids(crop) for item, crop in zip(items, crops)]), s.device)
        token_ids = None
        if not s.static_text:
            token_ids = s.conditioner.token_ids(
                [caption_for_step(item, s.config, tr.seed, epoch, batch_index, slot) for slot, item in enumerate(items)]
            )
        return HostBatch(crops, latents, time_ids, token_ids)

    def batch_loss(self, batches: list[list[int]], batch_index: int, epoch: int) -> torch.Tensor:
        s, tr = self.s, self.s.config.training
        batch = batches[batch_index]
        host = self.host_batch(tuple(batch), epoch, batch_index)
        latents = host.latents
        if latents is None:  # random crops, or a damaged cache entry: encoded now
            latents = torch.stack([s.latents.get(s.items[i], crop) for i, crop in zip(batch, host.crops)])
        latents = to_device(latents, s.device).to(s.weight_dtype)
        time_ids = to_device(host.time_ids, s.device).to(s.weight_dtype)
        noise = torch.randn(latents.shape, generator=s.generator, dtype=torch.float32)
        if tr.noise_offset:
            noise += tr.noise_offset * torch.randn((latents.shape[0], latents.shape[1], 1, 1), generator=s.generator)
        timesteps = torch.randint(
            0, s.base.noise_scheduler.config.num_train_timesteps, (latents.shape[0],), generator=s.generator
        )
        noise, timesteps = to_device(noise, s.device).to(latents.dtype), to_device(timesteps, s.device)

        def compute() -> torch.Tensor:
            """Everything the adapter takes part in, run through `s.replicated` (DDP's forward
            with several GPUs)."""
            if s.static_text:
                hidden = torch.cat([s.static_text[i][0] for i in batch])
                pooled = torch.cat([s.static_text[i][1] for i in batch])
            else:
                with torch.set_grad_enabled(self.train_te), s.accelerator.autocast():
                    hidden, pooled = s.conditioner.encode_ids(host.token_ids, s.device, s.weight_dtype)
            return denoising_loss(
                s.base,
                latents,
                noise,
                timesteps,
                hidden,
                pooled,
                time_ids,
                s.accelerator.autocast(),
                tr.min_snr_gamma,
                self.alphas_cumprod,
            ).mean()

        return s.replicated(compute)

    def optimizer_step(self, finite: bool) -> None:
        s = self.s
        if finite:
            stepped = self.gather()
            if s.config.optimizer.max_grad_norm:
                s.accelerator.clip_grad_norm_(stepped, s.config.optimizer.max_grad_norm)
            s.optimizer.step()
            s.scheduler.step()
            if s.config.training.scale_weight_norms:
                s.adapter.apply_max_norm(s.config.training.scale_weight_norms)
        s.optimizer.zero_grad(set_to_none=True)

    def report_step(self, step: int, epoch: int, loss: float, rate: float, train_s: float) -> None:
        tr = self.s.config.training
        memory = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None
        self.reporter.emit(
            ev.TrainStep(
                step=step,
                epoch=epoch,
                total_steps=self.s.total_steps,
                loss=round(loss, 6),
                lr=self.s.scheduler.get_last_lr()[0],
                it_per_s=round(rate, 4),
                images_per_s=round(rate * tr.batch_size * tr.gradient_accumulation_steps, 4),
                memory_mib=round(memory, 1) if memory is not None else None,
                train_s=round(train_s, 3),
            )
        )
        eta = (self.s.total_steps - step) / rate if rate > 0 else None
        self.reporter.status(step=step, epoch=epoch, eta_s=round(eta, 1) if eta is not None else None)

    # ------------------------------------------------------------ intents and ends

    def handle_intents(self, position: ckpt.Position, save_now: bool, sample_now: bool) -> None:
        if save_now:
            self.intents.consume(control.SAVE_NOW)
            self.reporter.emit(ev.ControlReceived(intent=control.SAVE_NOW, step=position.step))
            self.saves.adapter(position.epoch, position.step, f"{self.s.run.name}-s{position.step:06d}.safetensors")
            self.saves.checkpoint(position)
        if sample_now:
            self.intents.consume(control.SAMPLE_NOW)
            self.reporter.emit(ev.ControlReceived(intent=control.SAMPLE_NOW, step=position.step))
            self.saves.samples(f"s{position.step:06d}", position.epoch, position.step)

    def stop(self, position: ckpt.Position, reason: str) -> Outcome:
        self.reporter.emit(ev.ControlReceived(intent=control.STOP, step=position.step, reason=reason))
        self.intents.consume(control.STOP)
        saved = self.saves.checkpoint(position, required=True)
        self.reporter.status(force=True, state=STOPPED, step=position.step, epoch=position.epoch, reason=reason)
        self.reporter.emit(
            ev.RunStopped(
                step=position.step,
                epoch=position.epoch,
                reason=reason,
                checkpoint=str(saved.relative_to(self.s.run.path)) if saved else None,
            )
        )
        return Outcome(STOPPED, position.step, reason)

    def roll_back_and_fail(self, step: int) -> None:
        latest = ckpt.latest_checkpoint(self.s.run.checkpoints)
        where = "no checkpoint to roll back to"
        if latest is not None:
            ckpt.restore_weights(latest, self.s.adapter)
            where = f"the weights were rolled back to {latest.name}"
        raise StyloraError(
            f"the loss was not finite for {NONFINITE_LIMIT} steps in a row at step {step} ({where})",
            "lower optimizer.unet_lr, use bf16 instead of fp16, or check the dataset for broken images",
        )

    def finish(self, position: ckpt.Position) -> Outcome:
        """The final adapter, then the trained state as a checkpoint, then what is made from it:
        a kill while validation or previews are made leaves a crashed run whose resume starts
        at that checkpoint, trains nothing, and makes what is missing; the run is finished
        (status, event, notification) only once all of it exists."""
        step, epoch = position.step, position.epoch
        path = self.saves.adapter(epoch, step, f"{self.s.run.name}.safetensors")
        self.saves.checkpoint(position, best_effort=True)
        self.saves.validation(epoch, step)
        if self.needs_samples(epoch):
            self.saves.samples(f"e{epoch:04d}", epoch, step, path)
            self.saves.strengths()
        self.reporter.status(force=True, state=FINISHED, step=step, epoch=epoch)
        if path is not None:
            self.reporter.emit(
                ev.RunFinished(
                    step=step, epoch=epoch, output=str(path.relative_to(self.s.run.path)), train_s=round(position.train_s, 3)
                )
            )
        return Outcome(FINISHED, step)


def step_values(losses: list[torch.Tensor]) -> tuple[float, bool]:
    """The mean loss of an optimizer step and whether every loss was finite, read from the
    device together: the step's one host sync."""
    stacked = torch.stack(losses)
    mean, finite = torch.stack([stacked.mean(), torch.isfinite(stacked).all().to(stacked.dtype)]).tolist()
    return mean, bool(finite)
