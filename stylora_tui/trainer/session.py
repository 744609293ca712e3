"""Setting a run up, in named steps: where it runs (device, precision, processes), the
frozen base model, the data and its cached latents, the adapter with its optimizer and
schedule, the text conditioning, where to start (fresh, or the newest complete
checkpoint), and the seams that report it. Everything the step loop needs, built once.

A stop that arrives before training begins (while latents are cached) is not a session:
it is `StoppedBeforeTraining`, which the trainer's main turns into a stopped run.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass
from pathlib import Path

import torch

from stylora_tui.config.schema import Config
from stylora_tui.dataset.buckets import StepCount, count_steps
from stylora_tui.dataset.scan import DatasetScan, scan_dataset
from stylora_tui.errors import StyloraError
from stylora_tui.forecast.estimates import checkpointing
from stylora_tui.model.files import resolve_prediction
from stylora_tui.model.metadata import TrainingFacts
from stylora_tui.run import events as ev
from stylora_tui.run.layout import RunDir
from stylora_tui.trainer import checkpoint as ckpt
from stylora_tui.trainer.caching import cache_latents
from stylora_tui.trainer.data import (
    LatentCache,
    TrainItem,
    build_items,
    captions_are_static,
    encode_latents,
    load_pixels,
    vae_fingerprint,
)
from stylora_tui.trainer.distributed import Group, Replicated, ddp_settings
from stylora_tui.trainer.facts import started_event, training_facts
from stylora_tui.trainer.loading import (
    BaseModel,
    Placement,
    load_base_model,
    resolve_model_path,
    vae_dtype_for,
)
from stylora_tui.trainer.network import LoConNetwork
from stylora_tui.trainer.optim import build_optimizer, build_scheduler
from stylora_tui.trainer.sampler import Sampler
from stylora_tui.trainer.seams import Intents, Reporter
from stylora_tui.trainer.text import TextConditioner
from stylora_tui.trainer.validation import Validator


class StoppedBeforeTraining(Exception):
    """A stop arrived while the session was being set up: nothing was trained or saved."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Runtime:
    """Where the run trains: the device and its precision, and the processes taking part."""

    accelerator: object  # accelerate.Accelerator
    group: Group
    device: torch.device
    mixed_precision: str  # "bf16", "fp16" or "no"
    weight_dtype: torch.dtype
    placement: Placement


@dataclass(frozen=True)
class Latents:
    """The VAE latents of an item at a crop: from the shared cache, or encoded now (random
    crops, or a damaged cache entry)."""

    cache: LatentCache
    vae: torch.nn.Module
    device: torch.device

    def get(self, item: TrainItem, crop: tuple[int, int] | None = None) -> torch.Tensor:
        crop = item.center_crop if crop is None else crop
        cached = self.cache.get(item, crop)
        if cached is not None:
            return cached
        vae = self.vae.to(self.device)
        return encode_latents(vae, load_pixels(item, crop).unsqueeze(0), next(vae.parameters()).dtype)[0]


@dataclass(frozen=True)
class Data:
    scan: DatasetScan
    items: list[TrainItem]
    validation_items: list[TrainItem]
    steps: StepCount
    latents: Latents


@dataclass(frozen=True)
class Training:
    """The adapter and what moves it."""

    adapter: LoConNetwork
    optimizer: object  # torch.optim.Optimizer, prepared by accelerate
    scheduler: object  # torch.optim.lr_scheduler.LRScheduler
    replicated: Replicated | torch.nn.Module  # what losses are computed through: DDP with several GPUs
    gradient_checkpointing: bool


@dataclass(frozen=True)
class Start:
    """Where training begins: a fresh run, or the newest complete checkpoint that loads."""

    position: ckpt.Position
    generator: torch.Generator  # noise and timesteps: this process's own stream
    checkpoint: Path | None
    previous: dict  # what the checkpoint recorded of the run (its session id, its start)


@dataclass(frozen=True)
class Session:
    run: RunDir
    config: Config
    runtime: Runtime
    base: BaseModel
    data: Data
    training: Training
    conditioner: TextConditioner
    static_text: dict[int, tuple[torch.Tensor, torch.Tensor]]  # item index -> (hidden, pooled), when captions never change
    start: Start
    facts: TrainingFacts
    sampler: Sampler | None
    validator: Validator | None

    # The loop's most used parts, by their own names.
    accelerator = property(lambda self: self.runtime.accelerator)
    group = property(lambda self: self.runtime.group)
    device = property(lambda self: self.runtime.device)
    weight_dtype = property(lambda self: self.runtime.weight_dtype)
    items = property(lambda self: self.data.items)
    latents = property(lambda self: self.data.latents)
    total_steps = property(lambda self: self.data.steps.total_steps)
    adapter = property(lambda self: self.training.adapter)
    optimizer = property(lambda self: self.training.optimizer)
    scheduler = property(lambda self: self.training.scheduler)
    replicated = property(lambda self: self.training.replicated)
    position = property(lambda self: self.start.position)
    generator = property(lambda self: self.start.generator)


def open_session(run: RunDir, config: Config, intents: Intents, reporter: Reporter) -> Session:
    """The session; StoppedBeforeTraining when a stop arrives while latents are cached."""
    runtime = set_up_runtime(config)
    base = load_model(config, runtime)
    data = load_data(config, base, runtime, intents, reporter)
    training = set_up_training(config, base, runtime, data.steps)
    conditioner, static_text = set_up_text(config, base, runtime, data.items)
    start = find_start(run, config, training, runtime.group.rank, reporter)
    facts = training_facts(run, config, base, data, training, start)
    reporter.emit(started_event(run, config, runtime, data, training, start, base))
    reporter.status(force=True, step=start.position.step, epoch=start.position.epoch)
    main = runtime.group.is_main
    bucket = (data.steps.buckets[0].width, data.steps.buckets[0].height)
    return Session(
        run=run,
        config=config,
        runtime=runtime,
        base=base,
        data=data,
        training=training,
        conditioner=conditioner,
        static_text=static_text,
        start=start,
        facts=facts,
        sampler=Sampler(
            run,
            config,
            reporter,
            base,
            conditioner,
            training.adapter,
            runtime.device,
            runtime.weight_dtype,
            bucket,
            facts.tag_frequency,
            facts.base_model_hash,
        )
        if main
        else None,
        validator=Validator(
            data.validation_items, data.latents.get, conditioner, base, runtime.device, runtime.weight_dtype, config.training.seed
        )
        if main and data.validation_items
        else None,
    )


def out_of_the_collectors_way() -> None:
    """The set-up's objects (~0.5 M on SDXL's module tree: modules, parameters, their dicts)
    kept out of Python's full garbage collections. Each step's autograd objects outlive a
    few young collections and count toward the next full one, which then walks every
    object: 270 ms every 15-20 steps on the full module tree (`benchmarks/step_ops.py`), a
    stall the GPU waits through. Frozen, the same collections took 2.5 and 3.5 ms. What is frozen
    is never collected as a cycle, so this runs once the set-up's garbage is collected, by
    the trainer's own process (main), after the session is open: what is left lives as
    long as the run."""
    gc.collect()
    gc.freeze()


def precision(config: Config) -> tuple[torch.device, str, torch.dtype]:
    """(device, mixed precision, weight dtype): bf16 where the GPU has it, fp16 on older
    GPUs, fp32 on a CPU (no autocast there)."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda":
        # TF32 for what still runs in fp32 (the VAE, the adapter's own maths): free speed on
        # Ampere and newer, at a precision training does not notice.
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    mixed = config.training.mixed_precision if device.type == "cuda" else "no"
    if mixed == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        mixed = "fp16"
    return device, mixed, {"bf16": torch.bfloat16, "fp16": torch.float16}.get(mixed, torch.float32)


def set_up_runtime(config: Config) -> Runtime:
    from accelerate import Accelerator

    device, mixed, weight_dtype = precision(config)
    # cpu=True on a machine without CUDA also makes accelerate join a gloo process group
    # when several processes were launched (without it each trains alone).
    accelerator = Accelerator(mixed_precision=mixed, cpu=device.type == "cpu", kwargs_handlers=[ddp_settings()])
    device = accelerator.device
    train_te = config.network.trains_text_encoders
    placement = Placement(
        device,
        unet_dtype=weight_dtype,
        # fp32 where the text encoders train on a CPU (no autocast there).
        text_encoder_dtype=torch.float32 if train_te and device.type == "cpu" else weight_dtype,
        vae_dtype=vae_dtype_for(weight_dtype),
    )
    return Runtime(
        accelerator=accelerator,
        group=Group(accelerator, device),
        device=device,
        mixed_precision=mixed,
        weight_dtype=weight_dtype,
        placement=placement,
    )


def load_model(config: Config, runtime: Runtime) -> BaseModel:
    """The base model, frozen, in the dtype it trains in. Rank 0 first: it builds what the
    cache lacks (the demo model, the SDXL config folder) before the others read it."""
    prediction = resolve_prediction(config.model.path, config.model.prediction_type, config.training.zero_terminal_snr)
    if runtime.group.is_main:
        resolve_model_path(config.model.path)
    runtime.group.barrier()
    base = load_base_model(config.model.path, config.model.vae, prediction, runtime.placement)
    for model in (base.unet, base.vae, base.text_encoder, base.text_encoder_2):
        model.requires_grad_(False)
        model.eval()
    return base


def load_data(config: Config, base: BaseModel, runtime: Runtime, intents: Intents, reporter: Reporter) -> Data:
    """Buckets, captions and cached latents. One process fills the shared cache; the others
    read it once it is complete. Random crops differ every step, so only the held-out images
    (center crop) are cached then."""
    tr, group = config.training, runtime.group
    scan = scan_dataset(Path(config.dataset.path), config.dataset.caption_extension, config.dataset.repeats)
    items, validation_items = build_items(scan, config)
    if not items:
        raise StyloraError("no usable image in the dataset", f"run `stylora-tui check {config.dataset.path}`")
    steps = count_steps(
        [(i.bucket, i.repeats) for i in items],
        tr.batch_size,
        tr.epochs,
        tr.gradient_accumulation_steps,
        tr.max_steps,
        group.world,
    )
    reporter.status(force=True, total_steps=steps.total_steps)
    base.vae.to(runtime.device)
    cache = LatentCache(vae_fingerprint(base.vae))
    if group.is_main:
        to_cache = validation_items if config.dataset.random_crop else items + validation_items
        # With several processes a stop waits for the training loop, where all agree on it.
        stopped = cache_latents(
            to_cache, cache, base.vae, runtime.placement.vae_dtype, reporter, intents if group.world == 1 else None
        )
        if stopped:
            raise StoppedBeforeTraining(stopped)
    group.barrier()
    if not config.dataset.random_crop:
        base.vae.to("cpu")
    return Data(
        scan=scan,
        items=items,
        validation_items=validation_items,
        steps=steps,
        latents=Latents(cache=cache, vae=base.vae, device=runtime.device),
    )


def set_up_training(config: Config, base: BaseModel, runtime: Runtime, steps: StepCount) -> Training:
    """The adapter, seeded right before its random init: anything earlier (building the demo
    model on a first run) may draw from the global RNG, and every GPU must start from the
    same weights. Then gradient checkpointing, the optimizer and the schedule."""
    torch.manual_seed(config.training.seed)
    adapter = LoConNetwork(base.unet, base.text_encoder, base.text_encoder_2, config.network)
    adapter.apply_to()
    adapter.to(runtime.device, torch.float32)
    device = runtime.device
    memory_gib = torch.cuda.get_device_properties(device).total_memory / 2**30 if device.type == "cuda" else None
    use_checkpointing = checkpointing(config, memory_gib)
    if use_checkpointing:
        enable_checkpointing(base, config.network.trains_text_encoders)
    if compiles(config):
        compile_blocks(base, config.network.trains_text_encoders)
    optimizer = build_optimizer(config, adapter.param_groups(config.optimizer.unet_lr, config.optimizer.text_encoder_lr), device)
    scheduler = build_scheduler(config, optimizer, steps.total_steps)
    return Training(
        adapter=adapter,
        optimizer=runtime.accelerator.prepare(optimizer),
        scheduler=scheduler,
        replicated=runtime.group.replicate(adapter),
        gradient_checkpointing=use_checkpointing,
    )


def set_up_text(config: Config, base: BaseModel, runtime: Runtime, items: list[TrainItem]) -> tuple[TextConditioner, dict]:
    """Both text encoders behind one conditioner; captions that never change (no shuffle,
    no dropout) through frozen encoders are encoded once."""
    conditioner = TextConditioner(
        base.tokenizer, base.tokenizer_2, base.text_encoder, base.text_encoder_2, config.captions.max_token_length, base.pad_id_2
    )
    static_text = {}
    if captions_are_static(config) and not config.network.trains_text_encoders:
        with torch.no_grad():
            for item in items:
                static_text[item.index] = conditioner.encode([item.caption.text()], runtime.device, runtime.weight_dtype)
    return conditioner, static_text


def find_start(run: RunDir, config: Config, training: Training, rank: int, reporter: Reporter) -> Start:
    """A fresh run, or the newest complete checkpoint that loads. Each GPU draws its own
    noise; rank 0 draws what a single-GPU run would."""
    generator = torch.Generator("cpu").manual_seed(config.training.seed + rank)
    latest, position, previous, damaged = ckpt.load_newest(
        run.checkpoints, training.adapter, training.optimizer, training.scheduler, generator, rank
    )
    for name, why in damaged:
        reporter.emit(
            ev.Log(
                message=f"checkpoint {name} is damaged ({why}); "
                + (f"resuming from {latest.name}" if latest else "no older checkpoint loads")
            )
        )
    if damaged and latest is None:
        raise StyloraError(
            f"every checkpoint of {run.name} is damaged ({', '.join(n for n, _ in damaged)})",
            f"move {run.checkpoints} aside to start the run over, or start a new run",
        )
    return Start(position=position, generator=generator, checkpoint=latest, previous=previous)


def compiles(config: Config) -> bool:
    """training.compile, with "auto" decided: off until a GPU has measured what compiling
    gains against its minute or two of start-up (benchmarks/gpu_acceptance.sh runs both)."""
    return config.training.compile is True


def compile_blocks(base: BaseModel, train_te: bool) -> None:
    """Regional compilation, diffusers' recommended pattern: each repeated block compiled in
    place (one graph serves every block of a shape), the rest left eager: the UNet's
    transformer blocks and, when they train, both text encoders' layers (between them nearly
    every adapter module, whose per-module Python a compiled block no longer runs; frozen
    encoders run too rarely to repay a compile). The first step (and the first preview) pays
    the compile."""
    models = (base.unet, base.text_encoder, base.text_encoder_2) if train_te else (base.unet,)
    for model in models:
        for module in model.modules():
            if type(module).__name__ in REPEATED_BLOCKS:
                module.compile()


REPEATED_BLOCKS = ("BasicTransformerBlock", "CLIPEncoderLayer")


def enable_checkpointing(base: BaseModel, train_te: bool) -> None:
    base.unet.enable_gradient_checkpointing()
    base.unet.train()
    if train_te:
        for encoder in (base.text_encoder, base.text_encoder_2):
            # Non-reentrant: transformers 4.x checkpoints reentrantly by default, and a
            # reentrant segment whose inputs need no grad (token embeddings of a frozen
            # encoder) passes no gradient to the adapter modules inside it.
            encoder.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
            encoder.train()
