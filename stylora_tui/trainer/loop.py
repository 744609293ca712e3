"""The training run: read top to bottom.

One process per run, holding the run's lock. State goes out as events and status.json;
intents come in through control/ files and signals (SIGTERM, SIGHUP, SIGINT mean "save
and stop" and are honoured at the next optimizer-step boundary, never mid-write).
"""

from __future__ import annotations

import errno
import math
import os
import shutil
import signal
import time
import traceback
import uuid
from dataclasses import dataclass
from pathlib import Path

import torch

from stylora_tui.atomic import write_json_atomic
from stylora_tui.config.build import build_config
from stylora_tui.config.schema import Config
from stylora_tui.config.toml_io import read_toml_file
from stylora_tui.dataset.buckets import plan_steps
from stylora_tui.dataset.scan import scan_dataset
from stylora_tui.errors import StyloraError
from stylora_tui.model.files import V_PREDICTION, resolve_prediction
from stylora_tui.model.hashes import model_hash
from stylora_tui.model.metadata import TrainingFacts, adapter_metadata, tag_frequency
from stylora_tui.run import control
from stylora_tui.run import events as ev
from stylora_tui.run.layout import RunDir, newest_checkpoint_step
from stylora_tui.trainer import checkpoint as ckpt
from stylora_tui.trainer.data import (
    LatentCache,
    build_items,
    caption_for_step,
    captions_are_static,
    encode_latents,
    epoch_batches,
    load_pixels,
    random_crop,
    vae_fingerprint,
)
from stylora_tui.trainer.loading import Placement, load_base_model, resolve_model_path, vae_dtype_for
from stylora_tui.trainer.network import LoConNetwork, trains_text_encoders
from stylora_tui.trainer.optim import build_optimizer, build_scheduler, warmup_steps
from stylora_tui.trainer.output import DTYPES, save_adapter, verify_adapter
from stylora_tui.trainer.sampler import Sampler
from stylora_tui.trainer.text import TextConditioner
from stylora_tui.trainer.validation import Validator

NONFINITE_LIMIT = 5
STATUS_EVERY_S = 5.0
GPU_EVERY_S = 2.0


class StopRequested(Exception):
    """Internal: unwinds to the run's end once a stop has been saved."""


@dataclass
class Flags:
    stop_signal: str = ""


class NullEvents:
    """Events of ranks other than 0: only rank 0 writes the run's log."""

    def emit(self, type_: str, **fields) -> dict:
        return {}

    def close(self) -> None:
        pass


class Run:
    def __init__(self, run: RunDir, events, flags: Flags, rank: int = 0) -> None:
        self.run = run
        self.events = events
        self.flags = flags
        self.rank = rank
        self.config: Config = build_config(read_toml_file(run.config, "the run's config"), source=str(run.config))
        self.status: dict = {"state": "running", "pid": os.getpid(), "step": 0, "total_steps": 0, "epoch": 0}
        self._status_written = 0.0

    # ------------------------------------------------------------ status and intents

    def write_status(self, force: bool = False, **fields) -> None:
        self.status.update(fields, updated=time.time())
        if self.rank == 0 and (force or time.time() - self._status_written >= STATUS_EVERY_S):
            write_json_atomic(self.run.status_file, self.status)
            self._status_written = time.time()

    def stop_requested(self) -> str:
        """Why to stop now ('' = keep going): a signal, or a stop file from a viewer."""
        if self.flags.stop_signal:
            return f"{self.flags.stop_signal} received"
        if control.STOP in control.pending(self.run):
            return "stop requested"
        return ""

    # ------------------------------------------------------------ the run

    def execute(self) -> None:
        config = self.config
        tr = config.training
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        mixed = tr.mixed_precision if device.type == "cuda" else "no"
        if mixed == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
            mixed = "fp16"
        weight_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(mixed, torch.float32)
        from accelerate import Accelerator

        # cpu=True on a machine without CUDA also makes accelerate join a gloo process
        # group when several processes were launched (without it each trains alone).
        accelerator = Accelerator(mixed_precision=mixed, cpu=device.type == "cpu")
        device = accelerator.device
        world = accelerator.num_processes

        # The base model, frozen, loaded in the dtype it trains in. Rank 0 first: it builds
        # what the cache lacks (the demo model, the SDXL config folder) before the others read it.
        train_te = trains_text_encoders(config.network)
        placement = Placement(
            device,
            unet_dtype=weight_dtype,
            # fp32 where the text encoders train on a CPU (no autocast there).
            text_encoder_dtype=torch.float32 if train_te and device.type == "cpu" else weight_dtype,
            vae_dtype=vae_dtype_for(weight_dtype),
        )
        prediction = resolve_prediction(config.model.path, config.model.prediction_type, tr.zero_terminal_snr)
        if accelerator.is_main_process:
            resolve_model_path(config.model.path)
        accelerator.wait_for_everyone()
        base = load_base_model(config.model.path, config.model.vae, prediction, placement)
        for model in (base.unet, base.vae, base.text_encoder, base.text_encoder_2):
            model.requires_grad_(False)
            model.eval()
        base_hash = model_hash(config.model.path) if config.model.path == "demo" else model_hash(base.source)

        # The data: buckets, captions, cached latents.
        scan = scan_dataset(Path(config.dataset.path), config.dataset.caption_extension, config.dataset.repeats)
        items, validation_items = build_items(scan, config)
        if not items:
            raise StyloraError("no usable image in the dataset", f"run `stylora-tui check {config.dataset.path}`")
        plan = plan_steps([(i.bucket, i.repeats) for i in items], tr.batch_size, tr.epochs, tr.gradient_accumulation_steps, tr.max_steps, world)
        total_steps = plan.total_steps
        self.write_status(force=True, total_steps=total_steps)
        base.vae.to(device)
        cache = LatentCache(vae_fingerprint(base.vae))
        # One process fills the shared cache; the others read it once it is complete. Random
        # crops differ every step, so only the held-out images (center crop) are cached then.
        if accelerator.is_main_process:
            to_cache = validation_items if config.dataset.random_crop else items + validation_items
            self.cache_latents(to_cache, cache, base.vae, placement.vae_dtype, can_stop=world == 1)
        accelerator.wait_for_everyone()
        if not config.dataset.random_crop:
            base.vae.to("cpu")

        # The network.
        # Seeded here, right before the adapter's random init: anything earlier (building the
        # demo model on a first run) may draw from the global RNG, and every GPU must start
        # from the same weights.
        torch.manual_seed(tr.seed)
        adapter = LoConNetwork(base.unet, base.text_encoder, base.text_encoder_2, config.network)
        adapter.apply_to()
        adapter.to(device, torch.float32)
        if tr.gradient_checkpointing:
            base.unet.enable_gradient_checkpointing()
            base.unet.train()
            if train_te:
                for encoder in (base.text_encoder, base.text_encoder_2):
                    # Non-reentrant: transformers 4.x checkpoints reentrantly by default, and a
                    # reentrant segment whose inputs need no grad (token embeddings of a frozen
                    # encoder) passes no gradient to the adapter modules inside it.
                    encoder.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
                    encoder.train()
        optimizer = build_optimizer(config, adapter.param_groups(config.optimizer.unet_lr, config.optimizer.text_encoder_lr), device)
        scheduler = build_scheduler(config, optimizer, total_steps)
        # The adapter is not wrapped in DistributedDataParallel: its forward runs inside the
        # UNet, never through a wrapper's forward(), which is where DDP arms its gradient
        # hooks. Gradients are all-reduced explicitly at each optimizer step instead.
        optimizer = accelerator.prepare(optimizer)
        conditioner = TextConditioner(base.tokenizer, base.tokenizer_2, base.text_encoder, base.text_encoder_2,
                                      config.captions.max_token_length, base.pad_id_2)
        static_text = {}
        if captions_are_static(config) and not train_te:
            with torch.no_grad():
                for item in items:
                    static_text[item.index] = conditioner.encode([item.caption.text()], device, weight_dtype)

        # Where to start: a fresh run, or the newest complete checkpoint.
        # Each GPU draws its own noise; rank 0 draws what a single-GPU run would.
        generator = torch.Generator("cpu").manual_seed(tr.seed + self.rank)
        latest, position, previous, damaged = ckpt.load_newest(self.run.checkpoints, adapter, optimizer, scheduler, generator, self.rank)
        for name, why in damaged:
            self.events.emit(ev.LOG, message=f"checkpoint {name} is damaged ({why}); "
                             + (f"resuming from {latest.name}" if latest else "no older checkpoint loads"))
        if damaged and latest is None:
            raise StyloraError(
                f"every checkpoint of {self.run.name} is damaged ({', '.join(n for n, _ in damaged)})",
                f"move {self.run.checkpoints} aside to start the run over, or start a new run",
            )
        facts = TrainingFacts(
            run_name=self.run.name,
            session_id=previous.get("session_id") or uuid.uuid4().hex[:16],
            started_at=previous.get("started_at") or time.time(),
            num_images=sum(i.repeats for i in items),
            batches_per_epoch=plan.batches_per_epoch,
            total_steps=total_steps,
            warmup_steps=warmup_steps(config, total_steps),
            base_model_name=Path(str(config.model.path)).name,
            base_model_hash=base_hash,
            vae_name=Path(config.model.vae).name if config.model.vae else "",
            tag_frequency=tag_frequency([(_folder(i.rel, scan.root), i.caption.text if i.caption else "") for i in scan.usable]),
            buckets=tuple((b.width, b.height, b.count) for b in plan.buckets),
            dataset_dirs=_dataset_dirs(scan),
            prediction_type=base.prediction.type,
            zero_terminal_snr=base.prediction.zero_terminal_snr,
        )
        self.events.emit(
            ev.RUN_RESUMED if latest is not None else ev.RUN_STARTED,
            run=self.run.name, step=position.step, epoch=position.epoch, total_steps=total_steps, epochs=tr.epochs,
            steps_per_epoch=plan.steps_per_epoch, images=len(items), device=str(device), mixed_precision=mixed,
            modules=len(adapter.modules_by_key), trainable_params=adapter.trainable_parameters(), gpus=world,
            checkpoint=str(latest.name) if latest else None, prediction=base.prediction.type,
            zero_terminal_snr=base.prediction.zero_terminal_snr, random_crop=config.dataset.random_crop,
        )
        self.write_status(force=True, step=position.step, epoch=position.epoch)

        loop = Loop(self, accelerator, base, adapter, optimizer, scheduler, generator, items, cache, conditioner,
                    static_text, weight_dtype, device, total_steps, facts)
        dominant_bucket = (plan.buckets[0].width, plan.buckets[0].height)
        if accelerator.is_main_process:
            loop.sampler = Sampler(self, base, conditioner, device, weight_dtype, dominant_bucket)
        if validation_items and accelerator.is_main_process:
            loop.validator = Validator(validation_items, loop.latents_for, conditioner, base, device, weight_dtype, tr.seed)
        loop.train(position)

    def cache_latents(self, items, cache: LatentCache, vae, dtype, can_stop: bool = True) -> None:
        total = len(items)
        last_emit = 0.0
        for done, item in enumerate(items, start=1):
            # With several processes a stop waits for the training loop, where all agree on it.
            if can_stop and self.stop_requested():
                raise StopRequested(self.stop_requested())
            crop = item.center_crop
            if cache.get(item, crop) is None:
                pixels = load_pixels(item, crop).unsqueeze(0)
                cache.put(item, crop, encode_latents(vae, pixels, dtype)[0])
            if done == total or time.time() - last_emit > 1.0:
                self.events.emit(ev.CACHE_PROGRESS, done=done, total=total)
                last_emit = time.time()


def _folder(rel: str, root: Path) -> str:
    return rel.split("/", 1)[0] if "/" in rel else root.name


def _dataset_dirs(scan) -> dict:
    dirs: dict[str, dict] = {}
    for image in scan.usable:
        entry = dirs.setdefault(_folder(image.rel, scan.root), {"n_repeats": image.repeats, "img_count": 0})
        entry["img_count"] += 1
    return dirs


class Loop:
    """The step loop and its saves."""

    def __init__(self, owner: Run, accelerator, base, adapter, optimizer, scheduler, generator, items, cache,
                 conditioner, static_text, weight_dtype, device, total_steps, facts) -> None:
        self.owner, self.config, self.events, self.run = owner, owner.config, owner.events, owner.run
        self.accelerator, self.base, self.adapter = accelerator, base, adapter
        self.optimizer, self.scheduler, self.generator = optimizer, scheduler, generator
        self.items, self.cache, self.conditioner, self.static_text = items, cache, conditioner, static_text
        self.weight_dtype, self.device, self.total_steps, self.facts = weight_dtype, device, total_steps, facts
        self.train_te = trains_text_encoders(self.config.network)
        self.alphas_cumprod = base.noise_scheduler.alphas_cumprod.to(device)
        self.expected_shapes = _expected_shapes(adapter)
        self.last_checkpoint_time = time.time()
        self.sampler: Sampler | None = None
        self.validator: Validator | None = None
        self.rank, self.world = accelerator.process_index, accelerator.num_processes
        self.is_main = accelerator.is_main_process

    # ------------------------------------------------------------ predicates

    def needs_output(self, epoch: int) -> bool:
        every = self.config.saving.every_n_epochs
        return bool(every) and epoch % every == 0 and epoch < self.config.training.epochs

    def needs_samples(self, epoch: int) -> bool:
        every = self.config.samples.every_n_epochs
        return bool(every) and (epoch % every == 0 or epoch == self.config.training.epochs)

    def needs_validation(self, epoch: int) -> bool:
        return self.validator is not None and (self.needs_output(epoch) or epoch == self.config.training.epochs)

    def needs_timed_checkpoint(self) -> bool:
        minutes = self.config.saving.checkpoint_every_minutes
        return bool(minutes) and time.time() - self.last_checkpoint_time >= minutes * 60

    # ------------------------------------------------------------ several GPUs

    def barrier(self) -> None:
        self.accelerator.wait_for_everyone()

    def agree_any(self, flags: list[bool]) -> list[bool]:
        """Each flag true on any process is true on all (one small all-reduce per step)."""
        if self.world == 1:
            return flags
        import torch.distributed as dist

        tensor = torch.tensor([1.0 if f else 0.0 for f in flags], device=self.device)
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
        return [bool(v) for v in tensor.tolist()]

    def mean_across(self, value: float) -> float:
        if self.world == 1:
            return value
        import torch.distributed as dist

        tensor = torch.tensor([value], device=self.device)
        dist.all_reduce(tensor)
        return float(tensor.item()) / self.world

    def shard(self, batches: list[list[int]]) -> list[list[int]]:
        """This process's batches: every world-th one, wrapping so all take as many steps."""
        if self.world == 1:
            return batches
        count = math.ceil(len(batches) / self.world)
        return [batches[(i * self.world + self.rank) % len(batches)] for i in range(count)]

    # ------------------------------------------------------------ the loop

    def train(self, position: ckpt.Position) -> None:
        tr = self.config.training
        step, train_s = position.step, position.train_s
        nonfinite = 0
        rate = None
        for epoch in range(position.epoch, tr.epochs + 1):
            batches = self.shard(epoch_batches(self.items, tr.batch_size, tr.seed, epoch))
            start = position.batch if epoch == position.epoch else 0
            index = start
            while index < len(batches):
                reason = self.owner.stop_requested() if self.is_main else ""
                wanted = control.pending(self.run) if self.is_main else set()
                stop, save_now, sample_now = self.agree_any([bool(reason), control.SAVE_NOW in wanted, control.SAMPLE_NOW in wanted])
                if stop:
                    self.stop(ckpt.Position(step, epoch, index, train_s), reason or "stop requested")
                self.handle_intents(ckpt.Position(step, epoch, index, train_s), epoch, save_now, sample_now)
                began = time.perf_counter()
                losses = []
                # One optimizer step: up to `gradient_accumulation_steps` batches. Counted
                # here rather than by accelerate, whose counter a checkpoint does not hold.
                micro_steps = min(tr.gradient_accumulation_steps, len(batches) - index)
                for _ in range(micro_steps):
                    loss = self.compute_loss(batches[index], epoch, index)
                    if torch.isfinite(loss):
                        self.accelerator.backward(loss / micro_steps)
                    losses.append(loss.detach().item())
                    index += 1
                (nonfinite_here,) = self.agree_any([not all(math.isfinite(l) for l in losses)])
                self.optimizer_step(not nonfinite_here)
                if nonfinite_here:
                    nonfinite += 1
                    self.events.emit(ev.STEP_SKIPPED, step=step + 1, epoch=epoch, reason="the loss was not finite (NaN or inf)")
                    if nonfinite >= NONFINITE_LIMIT:
                        self.roll_back_and_fail(step)
                    continue
                nonfinite = 0
                step += 1
                elapsed = time.perf_counter() - began
                train_s += elapsed
                rate = 1 / elapsed if rate is None else 0.9 * rate + 0.1 / elapsed
                self.report_step(step, epoch, self.mean_across(sum(losses) / len(losses)), rate, train_s)
                if step >= self.total_steps:
                    break
                (timed,) = self.agree_any([self.needs_timed_checkpoint()])
                if timed:
                    self.checkpoint(ckpt.Position(step, epoch, index, train_s))
            if step >= self.total_steps or epoch == tr.epochs:
                break
            self.events.emit(ev.EPOCH_FINISHED, epoch=epoch, step=step)
            if self.needs_output(epoch):
                self.save_output(epoch, step, f"{self.run.name}-e{epoch:04d}.safetensors")
                self.evaluate(epoch, step)
                self.checkpoint(ckpt.Position(step, epoch + 1, 0, train_s))
            if self.needs_samples(epoch):
                self.sample(f"e{epoch:04d}", epoch, step)
        self.finish(step, train_s, epoch)

    def compute_loss(self, batch: list[int], epoch: int, batch_index: int) -> torch.Tensor:
        tr = self.config.training
        items = [self.items[i] for i in batch]
        if self.config.dataset.random_crop:
            crops = [random_crop(item, tr.seed, epoch, batch_index, slot) for slot, item in enumerate(items)]
        else:
            crops = [item.center_crop for item in items]
        latents = torch.stack([self.latents_for(item, crop) for item, crop in zip(items, crops)]).to(self.device, self.weight_dtype)
        time_ids = torch.tensor([item.time_ids(crop) for item, crop in zip(items, crops)], device=self.device, dtype=self.weight_dtype)
        if self.static_text:
            hidden = torch.cat([self.static_text[i][0] for i in batch])
            pooled = torch.cat([self.static_text[i][1] for i in batch])
        else:
            captions = [caption_for_step(item, self.config, tr.seed, epoch, batch_index, slot) for slot, item in enumerate(items)]
            with torch.set_grad_enabled(self.train_te), self.accelerator.autocast():
                hidden, pooled = self.conditioner.encode(captions, self.device, self.weight_dtype)
        # Noise and timesteps come from the run's own generator (saved in checkpoints),
        # drawn on the CPU so a resumed run draws exactly the same numbers.
        noise = torch.randn(latents.shape, generator=self.generator, dtype=torch.float32)
        if tr.noise_offset:
            noise += tr.noise_offset * torch.randn((latents.shape[0], latents.shape[1], 1, 1), generator=self.generator)
        timesteps = torch.randint(0, self.base.noise_scheduler.config.num_train_timesteps, (latents.shape[0],), generator=self.generator)
        noise, timesteps = noise.to(self.device, latents.dtype), timesteps.to(self.device)
        noisy = self.base.noise_scheduler.add_noise(latents, noise, timesteps)
        with self.accelerator.autocast():
            prediction = self.base.unet(noisy, timesteps, hidden, added_cond_kwargs={"text_embeds": pooled, "time_ids": time_ids}).sample
        v_prediction = self.base.prediction.type == V_PREDICTION
        target = self.base.noise_scheduler.get_velocity(latents, noise, timesteps) if v_prediction else noise
        loss = torch.nn.functional.mse_loss(prediction.float(), target.float(), reduction="none").mean(dim=(1, 2, 3))
        if tr.min_snr_gamma:
            snr = self.alphas_cumprod[timesteps] / (1 - self.alphas_cumprod[timesteps])
            # min(SNR, gamma) / SNR for epsilon targets, / (SNR + 1) for v targets (kohya's apply_snr_weight).
            denominator = snr + 1 if v_prediction else snr
            loss = loss * torch.clamp(snr, max=tr.min_snr_gamma) / denominator
        return loss.mean()

    def latents_for(self, item, crop: tuple[int, int] | None = None) -> torch.Tensor:
        crop = item.center_crop if crop is None else crop
        cached = self.cache.get(item, crop)
        if cached is not None:
            return cached
        # Random crops (or a damaged cache entry) are encoded on the fly.
        vae = self.base.vae.to(self.device)
        return encode_latents(vae, load_pixels(item, crop).unsqueeze(0), next(vae.parameters()).dtype)[0]

    def sync_gradients(self) -> None:
        """Average the adapter's gradients over all processes in one all-reduce."""
        if self.world == 1:
            return
        import torch.distributed as dist
        from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors

        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        flat = _flatten_dense_tensors(grads)
        dist.all_reduce(flat)
        flat /= self.world
        for param, synced in zip(params, _unflatten_dense_tensors(flat, grads)):
            param.grad = synced

    def optimizer_step(self, finite: bool) -> None:
        if finite:
            self.sync_gradients()
            if self.config.optimizer.max_grad_norm:
                self.accelerator.clip_grad_norm_(self.adapter.parameters(), self.config.optimizer.max_grad_norm)
            self.optimizer.step()
            self.scheduler.step()
            if self.config.training.scale_weight_norms:
                self.adapter.apply_max_norm(self.config.training.scale_weight_norms)
        self.optimizer.zero_grad(set_to_none=True)

    def report_step(self, step: int, epoch: int, loss: float, rate: float, train_s: float) -> None:
        memory = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None
        batch = self.config.training.batch_size * self.config.training.gradient_accumulation_steps
        self.events.emit(
            ev.TRAIN_STEP, step=step, epoch=epoch, total_steps=self.total_steps, loss=round(loss, 6),
            lr=self.scheduler.get_last_lr()[0], it_per_s=round(rate, 4), images_per_s=round(rate * batch, 4),
            memory_mib=round(memory, 1) if memory is not None else None, train_s=round(train_s, 3),
        )
        self.owner.write_status(step=step, epoch=epoch)

    # ------------------------------------------------------------ intents, saves, ends

    def handle_intents(self, position: ckpt.Position, epoch: int, save_now: bool, sample_now: bool) -> None:
        if save_now:
            if self.is_main:
                control.consume(self.run, control.SAVE_NOW)
                self.events.emit(ev.CONTROL_RECEIVED, intent=control.SAVE_NOW, step=position.step)
            self.save_output(epoch, position.step, f"{self.run.name}-s{position.step:06d}.safetensors")
            self.checkpoint(position)
        if sample_now:
            if self.is_main:
                control.consume(self.run, control.SAMPLE_NOW)
                self.events.emit(ev.CONTROL_RECEIVED, intent=control.SAMPLE_NOW, step=position.step)
            self.sample(f"s{position.step:06d}", epoch, position.step)

    def sample(self, label: str, epoch: int, step: int) -> None:
        if self.sampler is not None:
            self.sampler.render(label, epoch, step)
        self.barrier()

    def evaluate(self, epoch: int, step: int) -> None:
        if self.validator is not None:
            loss = self.validator.loss()
            self.events.emit(ev.VALIDATION, epoch=epoch, step=step, loss=round(loss, 6), images=len(self.validator.items))
        self.barrier()

    def checkpoint(self, position: ckpt.Position, required: bool = False) -> Path | None:
        """Every process calls this (each saves its own RNG); rank 0 returns the folder.

        A checkpoint that cannot be written is said loudly (event, status). The run then
        fails with the reason, unless the user chose to train on without it; a stop
        (`required`) never claims success without one."""
        needed = ckpt.estimated_bytes(self.adapter)
        free = shutil.disk_usage(self.run.path).free
        (short,) = self.agree_any([free < 2 * needed])
        problem = f"the disk is nearly full ({free >> 20} MiB free, {2 * needed >> 20} MiB needed)" if short else ""
        path = None
        done = ckpt.complete_at(self.run.checkpoints, position.step)
        if done is not None:
            # This step is saved already (a timed checkpoint on an epoch's last step): the
            # state is the same, and a second save would only risk the complete one.
            self.barrier()
            return done
        if not problem:
            try:
                path = ckpt.save_checkpoint(
                    self.run.checkpoints, position, self.adapter, self.optimizer, self.scheduler, self.generator,
                    self.config.saving.keep_checkpoints, {"session_id": self.facts.session_id, "started_at": self.facts.started_at},
                    self.rank, self.barrier,
                )
            except OSError as exc:
                problem = disk_problem(exc)
        self.last_checkpoint_time = time.time()
        if problem:
            self.checkpoint_failed(position, problem, required)
            return None
        if path is not None:
            self.events.emit(ev.CHECKPOINT_SAVED, step=position.step, epoch=position.epoch, path=str(path.relative_to(self.run.path)))
            self.owner.write_status(force=True, checkpoint_error="")
        self.barrier()
        return path

    def checkpoint_failed(self, position: ckpt.Position, problem: str, required: bool) -> None:
        newest = ckpt.latest_checkpoint(self.run.checkpoints)
        resumes = f"step {newest.name.removeprefix(ckpt.PREFIX).lstrip('0') or '0'}" if newest else "the start"
        message = f"checkpoint at step {position.step} could not be written: {problem}"
        self.events.emit(ev.CHECKPOINT_FAILED, step=position.step, epoch=position.epoch, reason=problem)
        self.owner.write_status(force=True, checkpoint_error=message)
        if required or not self.config.saving.continue_without_checkpoints:
            raise StyloraError(message, f"free disk space in {self.run.path.parent}, then `stylora-tui --resume {self.run.name}` "
                                        f"continues from {resumes} (or set saving.continue_without_checkpoints = true)")
        self.events.emit(ev.LOG, message=f"{message}; training goes on (saving.continue_without_checkpoints); a resume would start from {resumes}")

    def save_output(self, epoch: int, step: int, name: str) -> Path | None:
        """Rank 0 writes the adapter; the others wait for it."""
        if not self.is_main:
            self.barrier()
            return None
        dtype = DTYPES[self.config.saving.precision]
        metadata = adapter_metadata(self.config, self.facts, epoch=epoch, step=step)
        path = save_adapter(self.adapter.kohya_state_dict(dtype), metadata, self.run.output / name)
        modules = verify_adapter(path, self.expected_shapes)
        self.events.emit(ev.OUTPUT_SAVED, epoch=epoch, step=step, path=str(path.relative_to(self.run.path)), modules=modules,
                         bytes=path.stat().st_size)
        self.barrier()
        return path

    def stop(self, position: ckpt.Position, reason: str) -> None:
        self.events.emit(ev.CONTROL_RECEIVED, intent=control.STOP, step=position.step, reason=reason)
        if self.is_main:
            control.consume(self.run, control.STOP)
        saved = self.checkpoint(position, required=True)
        self.owner.write_status(force=True, state="stopped", step=position.step, epoch=position.epoch, reason=reason)
        self.events.emit(ev.RUN_STOPPED, step=position.step, epoch=position.epoch, reason=reason,
                         checkpoint=str(saved.relative_to(self.run.path)) if saved else None)
        raise StopRequested(reason)

    def roll_back_and_fail(self, step: int) -> None:
        latest = ckpt.latest_checkpoint(self.run.checkpoints)
        where = "no checkpoint to roll back to"
        if latest is not None:
            ckpt.restore_weights(latest, self.adapter)
            where = f"the weights were rolled back to {latest.name}"
        raise StyloraError(
            f"the loss was not finite for {NONFINITE_LIMIT} steps in a row at step {step} ({where})",
            "lower optimizer.unet_lr, use bf16 instead of fp16, or check the dataset for broken images",
        )

    def finish(self, step: int, train_s: float, epoch: int) -> None:
        path = self.save_output(epoch, step, f"{self.run.name}.safetensors")
        self.evaluate(epoch, step)
        # The deliverable exists: a kill during the last samples must not make it a crash.
        self.owner.write_status(force=True, state="finished", step=step, epoch=epoch)
        if self.needs_samples(epoch):
            self.sample(f"e{epoch:04d}", epoch, step)
        if path is not None:
            self.events.emit(ev.RUN_FINISHED, step=step, epoch=epoch, output=str(path.relative_to(self.run.path)), train_s=round(train_s, 3))


def _expected_shapes(adapter: LoConNetwork) -> dict:
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


def _install_signals(flags: Flags) -> None:
    def handler(signum, _frame):
        flags.stop_signal = signal.Signals(signum).name

    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, handler)


def oom_hint(config: Config) -> str:
    tr = config.training
    lower = [f"training.batch_size (now {tr.batch_size})", f"dataset.resolution_px (now {config.dataset.resolution_px[0]}x{config.dataset.resolution_px[1]})"]
    if not tr.gradient_checkpointing:
        lower.insert(0, "turn on training.gradient_checkpointing")
    lower.append(f"network.dim (now {config.network.dim})")
    if config.network.train_text_encoders:
        lower.append("set network.train_text_encoders = false")
    return "lower: " + ", ".join(lower) + "; then resume"


def main(run: RunDir, lock: int | None, rank: int = 0) -> int:
    """The trainer process; rank 0 holds the run's lock (taken in __main__) and writes
    the events, status and files; other ranks (several GPUs) only train."""
    flags = Flags()
    _install_signals(flags)
    events = ev.EventWriter(run.events) if rank == 0 else NullEvents()
    telemetry = None
    owner = None
    reserve = None
    try:
        from stylora_tui.trainer.telemetry import GpuTelemetry

        if rank == 0:
            telemetry = GpuTelemetry(events, GPU_EVERY_S)
            telemetry.start()
        if rank == 0:
            ckpt.remove_partial(run.checkpoints)
            reserve = SpaceReserve(run.logs / ".space-reserve")
        owner = Run(run, events, flags, rank)
        # Until training starts, `runs` shows the step a resume continues from.
        resumable = newest_checkpoint_step(run)
        owner.write_status(force=True, **({"step": resumable} if resumable else {}))
        owner.execute()
        return 0
    except StopRequested as stop:
        if rank == 0:
            # Honoured before training began (while loading or caching): consumed here too,
            # or every later resume would stop again at once.
            control.consume(run, control.STOP)
        if rank == 0 and owner is not None and owner.status.get("state") != "stopped":
            # Nothing new to save; the newest checkpoint (if any) is where a resume continues.
            owner.write_status(force=True, state="stopped", reason=str(stop))
            events.emit(ev.RUN_STOPPED, step=owner.status.get("step", 0), reason=str(stop), checkpoint=None)
        return 0
    except Exception as exc:  # the run failed: say why in the events, keep the traceback in the log
        traceback.print_exc()
        if reserve is not None:
            reserve.release()  # a full disk must still take the final event and status
        reason, hint = _failure(exc, owner.config if owner else None, run)
        try:
            events.emit(ev.RUN_FAILED, reason=reason, hint=hint)
        except OSError:
            traceback.print_exc()
        if rank == 0:
            status = {"state": "failed", "pid": os.getpid(), "reason": reason, "hint": hint, "updated": time.time()}
            if owner is not None:
                status = {**owner.status, **status}
            write_json_atomic(run.status_file, status)
        return 1
    finally:
        if reserve is not None:
            reserve.release()
        if telemetry is not None:
            telemetry.stop()
        events.close()
        if lock is not None:
            os.close(lock)


def disk_problem(exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"the disk is full ({os.strerror(exc.errno)})"
    return f"{exc.strerror or exc} ({exc.filename or 'no file'})"


class SpaceReserve:
    """A small file held from the start and deleted when the run fails, so that a full disk
    still has room for the final event and status: the run ends `failed`, saying why,
    rather than looking `crashed`."""

    SIZE = 1 << 20

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "wb") as handle:
                handle.write(b"\0" * self.SIZE)
        except OSError:
            path.unlink(missing_ok=True)

    def release(self) -> None:
        self.path.unlink(missing_ok=True)


def _failure(exc: Exception, config: Config | None, run: RunDir) -> tuple[str, str]:
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return "CUDA out of memory", oom_hint(config) if config else "lower the batch size or resolution"
    if isinstance(exc, StyloraError):
        return exc.message, exc.hint
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return disk_problem(exc), f"free disk space in {run.path.parent}, then `stylora-tui --resume {run.name}`"
    return f"{type(exc).__name__}: {exc}", "see logs/trainer.log for the traceback; resume with stylora-tui --resume once fixed"
