"""The training config: typed, frozen, validated all at once.

A config is built in layers: the schema's defaults, then a preset (a partial config),
then the user's edits (wizard fields or `--set key=value`). Every layer goes through
`config_from_dict`, which reports every problem it finds (unknown keys with a
did-you-mean hint, wrong types, out-of-range values, conflicts) instead of stopping at
the first. The help text of each field is the practice's one-line reason for it
(FIELD-NOTES, Part 1) and is shown by the wizard and written as comments into TOML.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field, fields, replace
from typing import Any

from stylora_tui.config import toml_compat as tomllib
from stylora_tui.config.families import FAMILIES, get_family
from stylora_tui.errors import ConfigError
from stylora_tui.findings import Finding, Severity

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
        "pony, animagine or other: train on the family you will generate with",
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
    repeats: int = spec(
        2, "times each image is seen per epoch; repeating teaches faster than more images once", min=1, max=1000
    )
    caption_extension: str = spec(".txt", "caption file extension beside each image (kohya's default is .caption)")
    resolution_px: tuple = spec(
        (1024, 1024),
        "training resolution, one number or [width, height]: higher gave better results",
        min=64,
        max=4096,
        multiple_of=32,
    )
    enable_buckets: bool = spec(True, "group images by aspect ratio instead of center-cropping all to a square")
    min_bucket_px: int = spec(256, "smallest bucket side", min=64, max=4096, multiple_of=32)
    max_bucket_px: int = spec(2048, "largest bucket side; 1024 would clamp every non-square bucket below 1 MP", min=64, max=8192, multiple_of=32)
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
    gradient_checkpointing: bool = spec(True, "large VRAM saving for about a third more compute")
    seed: int = spec(42, "fixes data order, noise and initial weights", min=0, max=2**32 - 1)
    noise_offset: float = spec(0.0, "adds offset noise for darker darks / brighter brights; 0 = off", min=0.0, max=1.0)
    min_snr_gamma: float = spec(5.0, "min-SNR loss weighting; 5 is usual, 0 = off", min=0.0, max=100.0)
    scale_weight_norms: float = spec(1.0, "max-norm per module after each step; curbs over-training; 0 = off", min=0.0, max=100.0)
    max_steps: int = spec(0, "stop after this many optimizer steps; 0 = run all epochs", min=0)
    zero_terminal_snr: bool | str = spec(
        "auto", "rescale the noise schedule to zero terminal SNR (v-prediction bases trained with it); auto = when the model is marked ztsnr",
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
    guidance_scale: float = spec(7.0, "classifier-free guidance", min=0.0, max=50.0)
    seed: int = spec(1234, "fixed seed so epochs are comparable", min=0, max=2**32 - 1)


@dataclass(frozen=True)
class ValidationConfig:
    holdout_images: int = spec(
        0, "images held out of training; their loss at each saved epoch (fixed noise and timesteps) shows the best epoch; 0 = off",
        min=0, max=1000,
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


# ---------------------------------------------------------------- parsing values


def _problem(code: str, key: str, message: str, hint: str = "") -> Finding:
    return Finding(Severity.ERROR, code, message, hint, key)


def _kind(section_cls: type, name: str) -> str:
    annotation = {f.name: f.type for f in fields(section_cls)}[name]
    return str(annotation).replace(" ", "")


def _coerce(key: str, kind: str, value: Any, problems: list[Finding]) -> Any:
    """Check a TOML value against the field's type; return the stored form or None."""

    def wrong(expected: str) -> None:
        problems.append(
            _problem("config-type", key, f"{key} must be {expected}, got {value!r}", f"write it like: {_example(kind)}")
        )

    if kind == "bool":
        if isinstance(value, bool):
            return value
        return wrong("true or false")
    if kind == "bool|str":
        # A switch that may also follow the model ("auto").
        if isinstance(value, bool) or value == "auto":
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        return wrong('true, false or "auto"')
    if kind == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return wrong("a whole number")
    if kind == "float":
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
        return wrong("a number")
    if kind == "str":
        if isinstance(value, str):
            return value
        return wrong("a string")
    if kind in ("tuple", "tuple|None"):
        if key == "dataset.resolution_px":
            if isinstance(value, int) and not isinstance(value, bool):
                return (value, value)
            if (
                isinstance(value, (list, tuple))
                and len(value) == 2
                and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
            ):
                return (value[0], value[1])
            return wrong("a number or [width, height]")
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return tuple(v.strip() for v in value if v.strip())
        return wrong("a list of strings")
    if kind == "dict":
        if isinstance(value, dict):
            return dict(value)
        return wrong("a table")
    raise AssertionError(f"unhandled config kind {kind} for {key}")


def _example(kind: str) -> str:
    return {
        "bool": "true",
        "bool|str": '"auto"',
        "int": "10",
        "float": "0.01",
        "str": '"text"',
        "tuple": '["a", "b"]',
        "tuple|None": '["a", "b"]',
        "dict": "{ key = 1 }",
    }.get(kind, "")


def _check_rules(key: str, value: Any, rules: dict, problems: list[Finding]) -> None:
    values = value if isinstance(value, tuple) and key == "dataset.resolution_px" else (value,)
    for v in values:
        if "choices" in rules and v not in rules["choices"]:
            choices = ", ".join(str(c) for c in rules["choices"])
            close = difflib.get_close_matches(str(v), [str(c) for c in rules["choices"]], n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            problems.append(_problem("config-choice", key, f"{key} = {v!r} is not one of: {choices}", f"{hint}choose one of: {choices}"))
            return
        if "min" in rules and v < rules["min"]:
            problems.append(_problem("config-range", key, f"{key} = {v} is below the minimum {rules['min']}", f"use a value of at least {rules['min']}"))
            return
        if "max" in rules and v > rules["max"]:
            problems.append(_problem("config-range", key, f"{key} = {v} is above the maximum {rules['max']}", f"use a value of at most {rules['max']}"))
            return
        if "gt" in rules and not v > rules["gt"]:
            problems.append(_problem("config-range", key, f"{key} = {v} must be greater than {rules['gt']}", "use a positive value"))
            return
        if rules.get("multiple_of") and v % rules["multiple_of"]:
            m = rules["multiple_of"]
            lower, upper = v - v % m, v - v % m + m
            problems.append(_problem("config-range", key, f"{key} = {v} is not a multiple of {m}", f"use {lower} or {upper}"))
            return


def _unknown_key_hint(key: str, section: str | None) -> str:
    leaf = key.rsplit(".", 1)[-1]
    elsewhere = [k for k in all_keys() if k.endswith("." + leaf)]
    if elsewhere:
        # The right name in the wrong section (e.g. `conv_alpha` under [training]).
        return f"did you mean {elsewhere[0]!r}? ({leaf} belongs in [{elsewhere[0].split('.')[0]}])"
    candidates = all_keys() if section is None else [f"{section}.{f.name}" for f in fields(SECTIONS[section])]
    close = difflib.get_close_matches(key, candidates, n=1, cutoff=0.6)
    if not close:
        close = difflib.get_close_matches(key, all_keys(), n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    return "see docs/CONFIG.md for every key"


def _merge_section(section: str, current: Any, data: Any, problems: list[Finding]) -> Any:
    cls = SECTIONS[section]
    if not isinstance(data, dict):
        problems.append(_problem("config-type", section, f"[{section}] must be a table of settings", f"write it as [{section}] followed by key = value lines"))
        return current
    known = {f.name: f for f in fields(cls)}
    updates = {}
    for name, value in data.items():
        key = f"{section}.{name}"
        if name not in known:
            problems.append(_problem("config-unknown-key", key, f"unknown setting {key}", _unknown_key_hint(key, section)))
            continue
        coerced = _coerce(key, _kind(cls, name), value, problems)
        if coerced is None:
            continue
        _check_rules(key, coerced, dict(known[name].metadata), problems)
        updates[name] = coerced
    return replace(current, **updates)


def merge(base: Config, data: dict, problems: list[Finding]) -> Config:
    """Overlay a (partial) config mapping onto `base`, appending every problem to `problems`."""
    sections = {}
    for name, value in data.items():
        if name == "schema_version":
            if value != SCHEMA_VERSION:
                problems.append(
                    _problem(
                        "config-schema-version",
                        "schema_version",
                        f"schema_version {value!r} is not supported (this stylora-tui reads {SCHEMA_VERSION})",
                        "upgrade stylora-tui, or re-create the file from a shipped preset",
                    )
                )
            continue
        if name not in SECTIONS:
            hint = _unknown_key_hint(name, None) if "." in name else ""
            close = difflib.get_close_matches(name, list(SECTIONS), n=1)
            if close:
                hint = f"did you mean [{close[0]}]?"
            elif not hint:
                hint = "sections are: " + ", ".join(f"[{s}]" for s in SECTIONS)
            problems.append(_problem("config-unknown-key", name, f"unknown section or key {name!r}", hint))
            continue
        sections[name] = _merge_section(name, getattr(base, name), value, problems)
    return replace(base, **sections)


# ---------------------------------------------------------------- cross-field rules


def cross_check(config: Config, total_steps: int | None = None) -> list[Finding]:
    """Rules that involve more than one field; `total_steps` enables the warmup check."""
    problems: list[Finding] = []
    net, ds, tr, sch = config.network, config.dataset, config.training, config.scheduler
    if net.alpha > net.dim:
        problems.append(
            _problem(
                "config-alpha",
                "network.alpha",
                f"network.alpha ({net.alpha:g}) is above network.dim ({net.dim}): the update would be scaled by {net.alpha / net.dim:.2f}",
                f"use alpha <= dim; half of dim is the usual pairing (alpha = {net.dim / 2:g})",
            )
        )
    if net.algo == "locon" and net.conv_alpha > net.conv_dim:
        problems.append(
            _problem(
                "config-alpha",
                "network.conv_alpha",
                f"network.conv_alpha ({net.conv_alpha:g}) is above network.conv_dim ({net.conv_dim})",
                f"use conv_alpha <= conv_dim (conv_alpha = {net.conv_dim / 2:g} is usual)",
            )
        )
    if net.preset == "unet-transformer-only" and net.train_text_encoders:
        problems.append(
            _problem(
                "config-conflict",
                "network.train_text_encoders",
                "network.preset 'unet-transformer-only' trains no text encoder, but train_text_encoders is true",
                "set network.train_text_encoders = false, or choose preset 'full' or 'attn-mlp'",
            )
        )
    if ds.min_bucket_px > ds.max_bucket_px:
        problems.append(
            _problem(
                "config-conflict",
                "dataset.min_bucket_px",
                f"dataset.min_bucket_px ({ds.min_bucket_px}) is above max_bucket_px ({ds.max_bucket_px})",
                "make min_bucket_px <= max_bucket_px (256 and 2048 are usual)",
            )
        )
    for side in ds.resolution_px:
        if ds.enable_buckets and side % ds.bucket_step_px:
            problems.append(
                _problem(
                    "config-conflict",
                    "dataset.resolution_px",
                    f"resolution side {side} is not a multiple of bucket_step_px ({ds.bucket_step_px})",
                    f"use {side - side % ds.bucket_step_px} or {side - side % ds.bucket_step_px + ds.bucket_step_px}",
                )
            )
            break
    if ds.enable_buckets and max(ds.resolution_px) > ds.max_bucket_px:
        problems.append(
            _problem(
                "config-conflict",
                "dataset.max_bucket_px",
                f"dataset.max_bucket_px ({ds.max_bucket_px}) is below the resolution ({max(ds.resolution_px)})",
                f"raise max_bucket_px to at least {max(ds.resolution_px)} (2048 is usual)",
            )
        )
    if sch.warmup_steps and sch.warmup_ratio:
        problems.append(
            _problem(
                "config-conflict",
                "scheduler.warmup_steps",
                f"both scheduler.warmup_steps ({sch.warmup_steps}) and warmup_ratio ({sch.warmup_ratio:g}) are set",
                "set one of them to 0",
            )
        )
    if sch.name == "constant" and (sch.warmup_steps or sch.warmup_ratio):
        problems.append(
            _problem(
                "config-conflict",
                "scheduler.name",
                "scheduler 'constant' ignores warmup",
                "use 'constant_with_warmup', or set warmup_steps and warmup_ratio to 0",
            )
        )
    run_steps = total_steps
    if tr.max_steps:
        run_steps = min(run_steps, tr.max_steps) if run_steps else tr.max_steps
    if run_steps and sch.warmup_steps >= run_steps:
        problems.append(
            _problem(
                "config-warmup",
                "scheduler.warmup_steps",
                f"warmup ({sch.warmup_steps} steps) is not shorter than the run ({run_steps} steps)",
                f"use fewer warmup steps (5% would be {max(1, run_steps // 20)}) or warmup_ratio",
            )
        )
    if config.captions.keep_tokens_separator and "," in config.captions.keep_tokens_separator:
        problems.append(
            _problem(
                "config-conflict",
                "captions.keep_tokens_separator",
                "captions.keep_tokens_separator must not contain a comma (tags are split on commas)",
                "use a marker such as '|||'",
            )
        )
    return problems


# ---------------------------------------------------------------- entry points


def build_config(*layers: dict, total_steps: int | None = None, source: str = "config", sources: tuple[str, ...] = ()) -> Config:
    """Defaults, then each layer in order; raise ConfigError listing every problem, each
    with the layer it came from (`sources`, one per layer; else `source` for all)."""
    problems: list[tuple[str, Finding]] = []
    config = Config()
    for index, layer in enumerate(layers):
        found: list[Finding] = []
        config = merge(config, layer, found)
        origin = sources[index] if index < len(sources) else source
        problems.extend((origin, f) for f in found)
    if not problems:
        problems.extend((source if not sources else "the combined settings", f) for f in cross_check(config, total_steps))
    if problems:
        raise config_error(problems)
    return config


def config_error(problems: list[tuple[str, Finding]]) -> ConfigError:
    """One error naming every problem and where it came from (a preset, your --set, ...)."""
    first_source, first = problems[0]
    if len(problems) == 1:
        return ConfigError(f"{first_source}: {first.message}", first.hint, tuple(f for _, f in problems))
    lines = "".join(f"\n  {origin}: {f.message} (hint: {f.hint})" for origin, f in problems)
    return ConfigError(f"{len(problems)} config problems:{lines}", "fix each one above", tuple(f for _, f in problems))


def read_toml_file(path, what: str) -> dict:
    """A TOML file as data; a file that is not UTF-8 text is an error that says so."""
    from pathlib import Path

    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        encoding = "UTF-16" if raw.startswith((b"\xff\xfe", b"\xfe\xff")) else "not UTF-8"
        raise ConfigError(f"{what} {path} is not UTF-8 text ({encoding})",
                          "re-save it as UTF-8 (most editors: Save As, encoding UTF-8)") from None
    return parse_toml(text, str(path))


def parse_toml(text: str, source: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source} is not valid TOML: {exc}", "fix the line named above; strings need quotes") from exc
    except RecursionError:
        raise ConfigError(f"{source} nests tables or arrays too deeply to be a config", "a stylora-tui config is sections of key = value lines") from None


def parse_override(assignment: str) -> dict:
    """`training.epochs=30` → {"training": {"epochs": 30}}; the value is read as TOML, else as a string."""
    if "=" not in assignment:
        raise ConfigError(f"--set {assignment!r} is not KEY=VALUE", "write it like --set training.epochs=30")
    key, raw = (part.strip() for part in assignment.split("=", 1))
    if key.count(".") != 1:
        raise ConfigError(f"--set key {key!r} must be section.name", _unknown_key_hint(key, None))
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    section, name = key.split(".")
    return {section: {name: value}}


def config_to_dict(config: Config) -> dict:
    """The config as TOML-ready data (None = unset is left out)."""
    data: dict[str, Any] = {"schema_version": config.schema_version}
    for section in SECTIONS:
        values = {}
        for f in fields(SECTIONS[section]):
            value = getattr(getattr(config, section), f.name)
            if value is None:
                continue
            if f.name == "resolution_px" and value[0] == value[1]:
                value = value[0]
            values[f.name] = list(value) if isinstance(value, tuple) else value
        data[section] = values
    return data


def config_to_toml(config: Config, header: str = "") -> str:
    """A complete config with each field's help as a comment (the run's frozen config.toml)."""
    import tomlkit

    doc = tomlkit.document()
    for line in header.splitlines():
        doc.add(tomlkit.comment(line))
    data = config_to_dict(config)
    doc.add("schema_version", data["schema_version"])
    for section in SECTIONS:
        table = tomlkit.table()
        table.comment(SECTION_HELP[section])
        for f in fields(SECTIONS[section]):
            if f.name not in data[section]:
                continue
            item = tomlkit.item(data[section][f.name])
            item.comment(f.metadata["help"])
            table.add(f.name, item)
        doc.add(section, table)
    return tomlkit.dumps(doc)
