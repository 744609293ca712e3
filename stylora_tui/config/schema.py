"""The training config's schema: typed, frozen sections with each field's default, help and
rules. The help text of each field is the practice's one-line reason for it (FIELD-NOTES,
Part 1); the wizard shows it and TOML files carry it as comments. Building and validating
a config from layers is `config.build`; reading and writing TOML is `config.toml_io`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from stylora_tui.config.families import FAMILIES, get_family

SCHEMA_VERSION = 1

ALGOS = ("locon", "lora")
TARGET_PRESETS = ("full", "attn-mlp", "unet-transformer-only")
OPTIMIZERS = ("AdamW", "AdamW8bit", "Prodigy", "Adafactor")
SCHEDULERS = (
    "cosine",
    "cosine_with_restarts",
    "constant",
    "constant_with_warmup",
    "linear",
    "polynomial",
)
MIXED_PRECISIONS = ("bf16", "fp16", "no")
SAVE_PRECISIONS = ("fp16", "bf16", "fp32")
MAX_TOKEN_LENGTHS = (75, 150, 225)
PREDICTION_TYPES = ("auto", "epsilon", "v_prediction")
NOTIFY_KINDS = ("auto", "ntfy", "discord", "slack", "json")
SAMPLERS = ("euler_a", "euler", "dpmpp_2m_karras")
# A caption file's extension: .txt, .caption, .wd14.txt; not ".txt-no" or ".txt backup".
CAPTION_EXTENSION = r"(\.[A-Za-z0-9_]{1,16}){1,3}"


def spec(default: Any = None, help: str = "", *, factory=None, **rules: Any):
    """A config field: its default, its one-line help, and validation rules.

    Rules: choices, min, max, gt (strictly greater than), multiple_of.
    """
    metadata = {"help": help, **rules}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class ModelConfig:
    path: str = spec("", "SDXL checkpoint: a .safetensors file, a diffusers folder, or 'demo'")
    family: str = spec(
        "animagine",
        "pony, animagine, illustrious, noobai or other: train on the family you will generate with",
        choices=tuple(FAMILIES),
    )
    vae: str = spec("", "optional VAE override (.safetensors or diffusers folder); empty = the model's own")
    prediction_type: str = spec(
        "auto",
        "what the base predicts: auto reads the model (v_pred key, scheduler config); v_prediction for NoobAI V-Pred and kin",
        choices=PREDICTION_TYPES,
    )


@dataclass(frozen=True)
class DatasetConfig:
    path: str = spec("", "folder of images with captions beside them (kohya <repeats>_<name> subfolders work)")
    repeats: int = spec(2, "times each image is seen per epoch; repeating teaches faster than more images once", min=1, max=1000)
    caption_extension: str = spec(
        ".txt",
        "caption file extension beside each image (kohya's default is .caption)",
        pattern=CAPTION_EXTENSION,
        pattern_says="is not a file extension",
        pattern_hint='write a dot and letters or digits, e.g. ".txt" or ".caption"',
    )
    resolution_px: tuple = spec(
        (1024, 1024),
        "training resolution, one number or [width, height]: higher gave better results",
        min=64,
        max=4096,
        multiple_of=32,
    )
    enable_buckets: bool = spec(True, "group images by aspect ratio instead of center-cropping all to a square")
    min_bucket_px: int = spec(256, "smallest bucket side", min=64, max=4096, multiple_of=32)
    max_bucket_px: int = spec(
        2048, "largest bucket side; 1024 would clamp every non-square bucket below 1 MP", min=64, max=8192, multiple_of=32
    )
    bucket_step_px: int = spec(64, "bucket side step; SDXL needs a multiple of 32", min=32, max=256, multiple_of=32)
    bucket_no_upscale: bool = spec(False, "never upscale small images into a larger bucket")
    random_crop: bool = spec(False, "crop randomly instead of centered; crop deliberately beforehand instead")


@dataclass(frozen=True)
class CaptionConfig:
    trigger: str = spec("", "a word the base model does not know, first in every caption (katsushikahokusaistyle)")
    keep_tokens: int = spec(
        1, "leading tags pinned in place when shuffling (1 = the trigger); family quality tags are pinned too", min=0, max=32
    )
    keep_tokens_separator: str = spec("", "optional marker: tags before it are pinned, e.g. '|||'")
    shuffle: bool = spec(True, "shuffle tags each step so the trigger does not soak up the tags that follow it")
    quality_tags: tuple | None = spec(
        None, "tags put after the trigger in every caption; unset = the family's (Pony: score_9, ...)"
    )
    caption_dropout: float = spec(0.0, "chance a caption is dropped entirely for a step", min=0.0, max=1.0)
    max_token_length: int = spec(
        225, "CLIP tokens per caption (75, 150 or 225); tags past it are silently lost", choices=MAX_TOKEN_LENGTHS
    )


@dataclass(frozen=True)
class NetworkConfig:
    algo: str = spec("locon", "locon trains convolutions too (richer line and colour); lora is transformer-only", choices=ALGOS)
    preset: str = spec(
        "full", "modules trained: full (UNet + convs + text encoders), attn-mlp, unet-transformer-only", choices=TARGET_PRESETS
    )
    dim: int = spec(64, "rank of linear modules; 64 is the practice, 128-256 for delicate styles (bigger file)", min=1, max=1024)
    alpha: float = spec(32.0, "scales the update by alpha/dim; half of dim is the usual pairing", gt=0.0)
    conv_dim: int = spec(64, "rank of 3x3 conv modules (LoCon only)", min=1, max=1024)
    conv_alpha: float = spec(32.0, "alpha of conv modules; half of conv_dim is usual", gt=0.0)
    train_text_encoders: bool = spec(True, "also adapt both CLIP text encoders (kohya's full set does)")

    @property
    def trains_text_encoders(self) -> bool:
        """The one rule for whether the text encoders get adapter modules."""
        return self.train_text_encoders and self.preset != "unet-transformer-only"


@dataclass(frozen=True)
class OptimizerConfig:
    name: str = spec("AdamW", "AdamW (fused on CUDA), AdamW8bit, Prodigy or Adafactor", choices=OPTIMIZERS)
    unet_lr: float = spec(1e-4, "UNet learning rate", gt=0.0, max=10.0)
    text_encoder_lr: float = spec(5e-5, "text-encoder learning rate (lower than the UNet's)", min=0.0, max=10.0)
    weight_decay: float = spec(0.01, "0.01 curbs over-training; raise it if late epochs over-train", min=0.0, max=1.0)
    max_grad_norm: float = spec(1.0, "gradient clipping; 0 = off", min=0.0)
    args: dict = spec(factory=dict, help="extra optimizer arguments, e.g. {betas = [0.9, 0.99]} or Prodigy's d_coef")


@dataclass(frozen=True)
class SchedulerConfig:
    name: str = spec("cosine", "learning-rate schedule; cosine with warmup is the practice", choices=SCHEDULERS)
    warmup_steps: int = spec(0, "warmup in optimizer steps (set this or warmup_ratio, not both)", min=0)
    warmup_ratio: float = spec(0.05, "warmup as a fraction of all steps", min=0.0, max=0.9)
    cycles: int = spec(1, "restarts for cosine_with_restarts", min=1, max=100)
    power: float = spec(1.0, "power for the polynomial schedule", gt=0.0)


@dataclass(frozen=True)
class TrainingConfig:
    epochs: int = spec(150, "passes over the dataset; 30 images x 2 repeats x 150 epochs was the best recipe", min=1, max=100000)
    batch_size: int = spec(1, "images per step (per GPU); batches form within one bucket", min=1, max=256)
    gpus: int = spec(1, "GPUs to train on, data parallel (launched through accelerate); the batch size is per GPU", min=1, max=64)
    gradient_accumulation_steps: int = spec(1, "steps accumulated per optimizer update", min=1, max=1024)
    mixed_precision: str = spec("bf16", "bf16 on Ampere and newer, fp16 on older GPUs, no = fp32", choices=MIXED_PRECISIONS)
    gradient_checkpointing: bool | str = spec(
        "auto",
        "large VRAM saving for about 43% more compute; auto = off where the GPU has the memory without it",
        choices=("auto", True, False),
    )
    compile: bool | str = spec(
        "auto",
        "torch.compile the UNet's transformer blocks and the text encoders' layers: faster steps after a slower first one; "
        "auto = off until a GPU measures the gain (benchmarks/gpu_acceptance.sh)",
        choices=("auto", True, False),
    )
    seed: int = spec(42, "fixes data order, noise and initial weights", min=0, max=2**32 - 1)
    noise_offset: float = spec(0.0, "adds offset noise for darker darks / brighter brights; 0 = off", min=0.0, max=1.0)
    min_snr_gamma: float = spec(5.0, "min-SNR loss weighting; 5 is usual, 0 = off", min=0.0, max=100.0)
    scale_weight_norms: float = spec(1.0, "max-norm per module after each step; curbs over-training; 0 = off", min=0.0, max=100.0)
    max_steps: int = spec(0, "stop after this many optimizer steps; 0 = run all epochs", min=0)
    zero_terminal_snr: bool | str = spec(
        "auto",
        "rescale the noise schedule to zero terminal SNR (v-prediction bases trained with it); auto = when the model is marked ztsnr",
        choices=("auto", True, False),
    )


@dataclass(frozen=True)
class SavingConfig:
    every_n_epochs: int = spec(10, "save an adapter every N epochs: the last epoch is not always the best", min=0)
    precision: str = spec("fp16", "dtype of saved adapters", choices=SAVE_PRECISIONS)
    keep_checkpoints: int = spec(2, "resumable checkpoints kept (the newest complete ones)", min=1, max=100)
    checkpoint_every_minutes: float = spec(
        20.0, "also checkpoint this often so a reclaimed machine loses little; 0 = only at saves", min=0.0
    )
    continue_without_checkpoints: bool = spec(
        False, "keep training when a checkpoint cannot be written (disk full); off = the run stops, failed, saying why"
    )


@dataclass(frozen=True)
class SampleConfig:
    prompts: tuple = spec((), "sample prompts; empty = built from the trigger and the family's quality tags")
    every_n_epochs: int = spec(10, "render samples every N epochs (with each save); 0 = off", min=0)
    width_px: int = spec(0, "sample width; 0 = the training bucket", min=0, max=4096, multiple_of=8)
    height_px: int = spec(0, "sample height; 0 = the training bucket", min=0, max=4096, multiple_of=8)
    steps: int = spec(28, "denoising steps per sample", min=1, max=200)
    guidance_scale: float = spec(
        0.0, "classifier-free guidance (CFG); 0 = the family's model card (5 for NoobAI, 7 for Pony)", min=0.0, max=50.0
    )
    guidance_rescale: float = spec(
        -1.0, "guidance rescale; -1 = 0.7 under zero terminal SNR (else it over-saturates), 0 otherwise", min=-1.0, max=1.0
    )
    sampler: str = spec("auto", "auto (the card's), euler_a, euler or dpmpp_2m_karras", choices=("auto", *SAMPLERS))
    prefix: str = spec(
        "auto",
        "quality tags every preview prompt carries; auto = the family's card (e.g. NoobAI's "
        "masterpiece, best quality, newest, absurdres, highres); empty = none",
    )
    negative_prompt: str = spec("auto", "the previews' negative prompt; auto = the family's card; empty = none")
    strength: float = spec(1.0, "the adapter strength previews are rendered at, as <lora:NAME:STRENGTH>", min=0.0, max=2.0)
    batch_size: int = spec(4, "previews rendered together (lower it if previews run out of GPU memory)", min=1, max=64)
    seed: int = spec(1234, "fixed seed so epochs are comparable", min=0, max=2**32 - 1)
    style_model: str = spec(
        "yuxi-liu-wired/CSD",
        "style embedding that ranks epochs against the dataset (CSD, MIT): a hub id, a .onnx file or folder; empty = none",
    )
    suggest_strengths: tuple = spec(
        (1.0, 0.8, 0.6),
        "strengths the suggested epoch is previewed at after the last epoch (an epoch that copies is tried lower); [] = none",
        min=0.0,
        max=2.0,
    )


@dataclass(frozen=True)
class ValidationConfig:
    holdout_images: int = spec(
        0,
        "images held out of training; their loss at each saved epoch (fixed noise and timesteps) shows the best epoch; 0 = off",
        min=0,
        max=1000,
    )


@dataclass(frozen=True)
class NotifyConfig:
    url: str = spec(
        "",
        "webhook told when the run finishes, fails or stops (ntfy, Discord, Slack or any JSON endpoint); empty = $STYLORA_NOTIFY_URL, else none",
        url=True,
    )
    kind: str = spec(
        "auto", "the webhook's message format; auto = from the URL's host (json for any other)", choices=NOTIFY_KINDS
    )


@dataclass(frozen=True)
class MirrorConfig:
    to: str = spec(
        "",
        "where the run is copied as it goes: a folder, user@host:path (rsync over ssh) or hf://org/repo "
        "(a private hub repo); empty = nowhere",
    )
    checkpoints: bool = spec(True, "mirror the newest complete checkpoint too, so another machine can resume the run")


RENTAL_ACTIONS = ("nothing", "stop", "terminate")
STALL_ACTIONS = ("nothing", "restart", "fail")


@dataclass(frozen=True)
class RentalConfig:
    on_finish: str = spec(
        "nothing",
        "when the run finishes (and the mirror has it): stop or terminate this machine (RunPod, Vast.ai, or command)",
        choices=RENTAL_ACTIONS,
    )
    on_failure: str = spec("nothing", "the same when the run fails", choices=RENTAL_ACTIONS)
    on_stall: str = spec(
        "nothing",
        "when no step progresses for max(10 min, 20 x the median step): restart once from the newest checkpoint, or fail",
        choices=STALL_ACTIONS,
    )
    command: str = spec(
        "",
        "what stops this machine where no provider is recognised (e.g. sudo shutdown -h now); it also replaces "
        "the provider's own",
    )
    price_per_hour: float = spec(
        0.0, "what this machine costs per hour, for the meter; 0 = what the provider says, else unknown", min=0.0
    )


SECTIONS: dict[str, type] = {
    "model": ModelConfig,
    "dataset": DatasetConfig,
    "captions": CaptionConfig,
    "network": NetworkConfig,
    "optimizer": OptimizerConfig,
    "scheduler": SchedulerConfig,
    "training": TrainingConfig,
    "saving": SavingConfig,
    "samples": SampleConfig,
    "validation": ValidationConfig,
    "notify": NotifyConfig,
    "mirror": MirrorConfig,
    "rental": RentalConfig,
}

SECTION_HELP = {
    "model": "base model",
    "dataset": "images, repeats and buckets",
    "captions": "trigger, quality tags and shuffling",
    "network": "LoCon network",
    "optimizer": "optimizer and learning rates",
    "scheduler": "learning-rate schedule",
    "training": "training loop",
    "saving": "adapters and checkpoints",
    "samples": "preview images",
    "validation": "held-out validation loss",
    "notify": "webhook when the run ends",
    "mirror": "the run copied off the machine as it goes",
    "rental": "the rented machine: stop it when done, the meter, a stalled trainer",
}


@dataclass(frozen=True)
class Config:
    schema_version: int = SCHEMA_VERSION
    model: ModelConfig = field(default_factory=ModelConfig)
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    captions: CaptionConfig = field(default_factory=CaptionConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    saving: SavingConfig = field(default_factory=SavingConfig)
    samples: SampleConfig = field(default_factory=SampleConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    mirror: MirrorConfig = field(default_factory=MirrorConfig)
    rental: RentalConfig = field(default_factory=RentalConfig)

    def get(self, dotted: str) -> Any:
        section, key = dotted.split(".", 1)
        return getattr(getattr(self, section), key)

    @property
    def quality_tags(self) -> tuple[str, ...]:
        """The quality tags in effect: the config's, or the family's when unset."""
        if self.captions.quality_tags is not None:
            return tuple(self.captions.quality_tags)
        return get_family(self.model.family).quality_tags

    @property
    def resolution(self) -> tuple[int, int]:
        return tuple(self.dataset.resolution_px)  # type: ignore[return-value]


def all_keys() -> list[str]:
    return [f"{s}.{f.name}" for s in SECTIONS for f in fields(SECTIONS[s])]
