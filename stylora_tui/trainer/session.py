"""Setting a run up: device and precision, the frozen base model, the data and its cached
latents, the adapter, its optimizer, and where to start (fresh, or the newest complete
checkpoint). Everything the step loop needs, built once, in one place.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import torch

from stylora_tui.config.schema import Config
from stylora_tui.dataset.buckets import count_steps
from stylora_tui.dataset.scan import scan_dataset
from stylora_tui.errors import StyloraError
from stylora_tui.model.files import resolve_prediction
from stylora_tui.model.hashes import model_hash
from stylora_tui.model.metadata import TrainingFacts, tag_frequency
from stylora_tui.run import events as ev
from stylora_tui.run.estimates import checkpointing
from stylora_tui.run.layout import RunDir
from stylora_tui.trainer import checkpoint as ckpt
from stylora_tui.trainer.caching import cache_latents
from stylora_tui.trainer.data import (
    LatentCache,
    build_items,
    captions_are_static,
    encode_latents,
    load_pixels,
    vae_fingerprint,
)
from stylora_tui.trainer.distributed import GradientBuckets, Group
from stylora_tui.trainer.loading import (
    BaseModel,
    Placement,
    load_base_model,
    resolve_model_path,
    vae_dtype_for,
)
from stylora_tui.trainer.network import LoConNetwork
from stylora_tui.trainer.optim import build_optimizer, build_scheduler, warmup_steps
from stylora_tui.trainer.sampler import Sampler
from stylora_tui.trainer.seams import Intents, Reporter
from stylora_tui.trainer.text import TextConditioner
from stylora_tui.trainer.validation import Validator


@dataclass
class Session:
    run: RunDir
    config: Config
    accelerator: object
    group: Group
    device: torch.device
    weight_dtype: torch.dtype
    base: BaseModel
    items: list
    cache: LatentCache
    adapter: LoConNetwork
    optimizer: object
    scheduler: object
    conditioner: TextConditioner
    static_text: dict
    generator: torch.Generator
    position: ckpt.Position
    total_steps: int
    facts: TrainingFacts
    sampler: Sampler | None
    validator: Validator | None
    reduction: GradientBuckets | None = None  # several GPUs: gradients averaged during backward


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


def open_session(run: RunDir, config: Config, intents: Intents, reporter: Reporter) -> Session | str:
    """The session, or the reason a stop arrived before training began (while caching)."""
    tr = config.training
    device, mixed, weight_dtype = precision(config)
    from accelerate import Accelerator

    # cpu=True on a machine without CUDA also makes accelerate join a gloo process group
    # when several processes were launched (without it each trains alone).
    accelerator = Accelerator(mixed_precision=mixed, cpu=device.type == "cpu")
    device = accelerator.device
    group = Group(accelerator, device)

    # The base model, frozen, loaded in the dtype it trains in. Rank 0 first: it builds
    # what the cache lacks (the demo model, the SDXL config folder) before the others read it.
    train_te = config.network.trains_text_encoders
    placement = Placement(
        device,
        unet_dtype=weight_dtype,
        # fp32 where the text encoders train on a CPU (no autocast there).
        text_encoder_dtype=torch.float32 if train_te and device.type == "cpu" else weight_dtype,
        vae_dtype=vae_dtype_for(weight_dtype),
    )
    prediction = resolve_prediction(config.model.path, config.model.prediction_type, tr.zero_terminal_snr)
    if group.is_main:
        resolve_model_path(config.model.path)
    group.barrier()
    base = load_base_model(config.model.path, config.model.vae, prediction, placement)
    for model in (base.unet, base.vae, base.text_encoder, base.text_encoder_2):
        model.requires_grad_(False)
        model.eval()

    # The data: buckets, captions, cached latents.
    scan = scan_dataset(Path(config.dataset.path), config.dataset.caption_extension, config.dataset.repeats)
    items, validation_items = build_items(scan, config)
    if not items:
        raise StyloraError("no usable image in the dataset", f"run `stylora-tui check {config.dataset.path}`")
    steps = count_steps([(i.bucket, i.repeats) for i in items], tr.batch_size, tr.epochs, tr.gradient_accumulation_steps,
                        tr.max_steps, group.world)
    reporter.status(force=True, total_steps=steps.total_steps)
    base.vae.to(device)
    cache = LatentCache(vae_fingerprint(base.vae))
    # One process fills the shared cache; the others read it once it is complete. Random
    # crops differ every step, so only the held-out images (center crop) are cached then.
    if group.is_main:
        to_cache = validation_items if config.dataset.random_crop else items + validation_items
        # With several processes a stop waits for the training loop, where all agree on it.
        stopped = cache_latents(to_cache, cache, base.vae, placement.vae_dtype, reporter, intents if group.world == 1 else None)
        if stopped:
            return stopped
    group.barrier()
    if not config.dataset.random_crop:
        base.vae.to("cpu")

    # The network. Seeded here, right before the adapter's random init: anything earlier
    # (building the demo model on a first run) may draw from the global RNG, and every GPU
    # must start from the same weights.
    torch.manual_seed(tr.seed)
    adapter = LoConNetwork(base.unet, base.text_encoder, base.text_encoder_2, config.network)
    adapter.apply_to()
    adapter.to(device, torch.float32)
    memory_gib = torch.cuda.get_device_properties(device).total_memory / 2**30 if device.type == "cuda" else None
    use_checkpointing = checkpointing(config, memory_gib)
    if use_checkpointing:
        enable_checkpointing(base, train_te)
    optimizer = build_optimizer(config, adapter.param_groups(config.optimizer.unet_lr, config.optimizer.text_encoder_lr), device)
    reduction = group.reduce_during_backward([p for g in optimizer.param_groups for p in g["params"]])
    scheduler = build_scheduler(config, optimizer, steps.total_steps)
    optimizer = accelerator.prepare(optimizer)
    conditioner = TextConditioner(base.tokenizer, base.tokenizer_2, base.text_encoder, base.text_encoder_2,
                                  config.captions.max_token_length, base.pad_id_2)
    static_text = {}
    if captions_are_static(config) and not train_te:
        with torch.no_grad():
            for item in items:
                static_text[item.index] = conditioner.encode([item.caption.text()], device, weight_dtype)

    # Where to start: a fresh run, or the newest complete checkpoint that loads. Each GPU
    # draws its own noise; rank 0 draws what a single-GPU run would.
    generator = torch.Generator("cpu").manual_seed(tr.seed + group.rank)
    latest, position, previous, damaged = ckpt.load_newest(run.checkpoints, adapter, optimizer, scheduler, generator, group.rank)
    for name, why in damaged:
        reporter.emit(ev.LOG, message=f"checkpoint {name} is damaged ({why}); "
                      + (f"resuming from {latest.name}" if latest else "no older checkpoint loads"))
    if damaged and latest is None:
        raise StyloraError(f"every checkpoint of {run.name} is damaged ({', '.join(n for n, _ in damaged)})",
                           f"move {run.checkpoints} aside to start the run over, or start a new run")
    facts = TrainingFacts(
        run_name=run.name,
        session_id=previous.get("session_id") or uuid.uuid4().hex[:16],
        started_at=previous.get("started_at") or time.time(),
        num_images=sum(i.repeats for i in items),
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
        gradient_checkpointing=use_checkpointing,
    )
    reporter.emit(
        ev.RUN_RESUMED if latest is not None else ev.RUN_STARTED,
        run=run.name, step=position.step, epoch=position.epoch, total_steps=steps.total_steps, epochs=tr.epochs,
        steps_per_epoch=steps.steps_per_epoch, images=len(items), device=str(device), mixed_precision=mixed,
        modules=len(adapter.modules_by_key), trainable_params=adapter.trainable_parameters(), gpus=group.world,
        checkpoint=str(latest.name) if latest else None, prediction=base.prediction.type,
        zero_terminal_snr=base.prediction.zero_terminal_snr, random_crop=config.dataset.random_crop,
        gradient_checkpointing=use_checkpointing,
    )
    reporter.status(force=True, step=position.step, epoch=position.epoch)
    session = Session(run, config, accelerator, group, device, weight_dtype, base, items, cache, adapter, optimizer, scheduler,
                      conditioner, static_text, generator, position, steps.total_steps, facts, None, None, reduction)
    if group.is_main:
        session.sampler = Sampler(run, config, reporter, base, conditioner, device, weight_dtype,
                                  (steps.buckets[0].width, steps.buckets[0].height))
        if validation_items:
            session.validator = Validator(validation_items, lambda item: latents_for(session, item), conditioner, base, device,
                                          weight_dtype, tr.seed)
    return session


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


def latents_for(session: Session, item, crop: tuple[int, int] | None = None) -> torch.Tensor:
    """The latents of `item` cropped at `crop` (the center by default): cached, or encoded
    now (random crops, or a damaged cache entry)."""
    crop = item.center_crop if crop is None else crop
    cached = session.cache.get(item, crop)
    if cached is not None:
        return cached
    vae = session.base.vae.to(session.device)
    return encode_latents(vae, load_pixels(item, crop).unsqueeze(0), next(vae.parameters()).dtype)[0]


def _folder(rel: str, root: Path) -> str:
    return rel.split("/", 1)[0] if "/" in rel else root.name


def _dataset_dirs(scan) -> dict:
    dirs: dict[str, dict] = {}
    for image in scan.usable:
        entry = dirs.setdefault(_folder(image.rel, scan.root), {"n_repeats": image.repeats, "img_count": 0})
        entry["img_count"] += 1
    return dirs
