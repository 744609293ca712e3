"""`stylora-tui import-kohya`: a kohya_ss GUI preset as a stylora preset.

It reads the GUI's JSON (string-typed numbers, `lr_warmup` in percent, optimizer
arguments as one shell-quoted string, `max_resolution` as "W,H") and produces a stylora
preset. Nothing is silently dropped: every key that would change training and has no
equivalent is reported in `unmapped`; keys stylora-tui handles by itself (latent caching,
attention kernels, data-loader workers) are reported in `automatic`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stylora_tui.config.build import build_config
from stylora_tui.config.schema import CAPTION_EXTENSION, Config
from stylora_tui.errors import ConfigError, KohyaImportError
from stylora_tui.interop.kohya_base import not_sdxl
from stylora_tui.interop.kohya_keys import (
    ADAPTIVE,
    AUTOMATIC,
    LOCON_TYPES,
    LORA_TYPES,
    OPTIMIZERS,
    PRECISIONS,
    SCHEDULERS,
    TARGET_PRESETS,
)
from stylora_tui.interop.kohya_values import additional_flags, blank, default_like, neutral, number, parse_optimizer_args


@dataclass
class KohyaImport:
    source: str
    data: dict = field(default_factory=dict)  # the stylora preset mapping
    unmapped: list[tuple[str, Any, str]] = field(default_factory=list)
    automatic: list[tuple[str, Any, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # what the user must read before training

    def set(self, dotted: str, value: Any) -> None:
        section, key = dotted.split(".")
        self.data.setdefault(section, {})[key] = value

    def to_json(self) -> dict:
        return {
            "source": self.source,
            "config": self.data,
            "unmapped": [{"key": k, "value": v, "reason": r} for k, v, r in self.unmapped],
            "automatic": [{"key": k, "value": v, "reason": r} for k, v, r in self.automatic],
            "notes": self.notes,
            "warnings": self.warnings,
        }


def import_kohya(path: Path) -> KohyaImport:
    try:
        return _import_kohya(path)
    except (TypeError, AttributeError) as exc:
        # A hand-edited preset with a list or table where the GUI writes a string or number.
        raise KohyaImportError(
            f"{path.name} holds a value of an unexpected type ({exc})",
            "export the preset again from the kohya_ss GUI (Configuration > Save)",
        ) from None


def _import_kohya(path: Path) -> KohyaImport:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KohyaImportError(f"{path} does not exist", "give the path of a kohya_ss GUI preset (.json)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise KohyaImportError(
            f"{path} is not a kohya_ss JSON preset: {exc}", "export the preset from the kohya_ss GUI (Configuration > Save)"
        ) from None
    except RecursionError:
        raise KohyaImportError(
            f"{path} nests too deeply to be a kohya_ss preset", "export the preset from the kohya_ss GUI"
        ) from None
    if not isinstance(raw, dict):
        raise KohyaImportError(
            f"{path} is not a kohya_ss JSON preset (expected an object)", "export the preset from the kohya_ss GUI"
        )
    result = KohyaImport(source=str(path))
    handled: set[str] = set()

    def take(key: str) -> Any:
        handled.add(key)
        return raw.get(key)

    _network(take, result, path)
    _optimizer(take, result)
    _schedule(take, result)
    _training(take, result)
    _saving(take, result)
    _dataset(take, result)
    _captions(take, result)
    _leftovers(take, raw, handled, result)
    not_sdxl(raw, result)
    validate_import(result)
    return result


def _network(take, result: KohyaImport, path: Path) -> None:
    """LoRA type, target set, ranks and alphas."""
    lora_type = take("LoRA_type") or "Standard"
    if not isinstance(lora_type, str):
        raise KohyaImportError(
            f"{path.name}: LoRA_type is {lora_type!r}, not a name",
            'the GUI writes a string such as "LyCORIS/LoCon" or "Standard"',
        )
    if lora_type in LOCON_TYPES:
        result.set("network.algo", "locon")
    elif lora_type in LORA_TYPES:
        result.set("network.algo", "lora")
    else:
        raise KohyaImportError(
            f"{path.name} is a {lora_type} preset; stylora-tui trains LoCon and standard LoRA only",
            "choose a LyCORIS/LoCon or Standard preset, or start from a shipped one (`stylora-tui presets`)",
        )
    algo = result.data["network"]["algo"]

    preset = take("LyCORIS_preset")
    if algo == "locon" and not blank(preset):
        if preset in TARGET_PRESETS:
            result.set("network.preset", TARGET_PRESETS[preset])
        else:
            result.unmapped.append(
                ("LyCORIS_preset", preset, "no equivalent target set; using 'full' (full, attn-mlp, unet-transformer-only exist)")
            )

    for key, target in (("network_dim", "network.dim"), ("network_alpha", "network.alpha")):
        value = take(key)
        if not blank(value):
            result.set(target, number(key, value, int if key == "network_dim" else float))
    for key, target in (("conv_dim", "network.conv_dim"), ("conv_alpha", "network.conv_alpha")):
        value = take(key)
        if blank(value):
            continue
        if algo == "locon":
            result.set(target, number(key, value, int if key == "conv_dim" else float))
        elif not neutral(value) and number(key, value) != 1:
            result.unmapped.append((key, value, "standard LoRA trains no convolutions; choose LoCon to train them"))


def _optimizer(take, result: KohyaImport) -> None:
    """Optimizer, its arguments and the learning rates."""
    # Optimizer and learning rates.
    optimizer = take("optimizer") or "AdamW"
    if optimizer in OPTIMIZERS:
        name, note = OPTIMIZERS[optimizer]
        if note:
            result.notes.append(f"optimizer {optimizer}: {note}")
    elif optimizer in ADAPTIVE:
        name = "Prodigy"
        result.notes.append(f"optimizer {optimizer} became Prodigy (both adapt their step size with lr ~ 1)")
    else:
        raise KohyaImportError(
            f"optimizer {optimizer!r} is not supported",
            "stylora-tui trains with AdamW, AdamW8bit, Prodigy or Adafactor; change the preset's optimizer and import again",
        )
    result.set("optimizer.name", name)
    args = parse_optimizer_args(take("optimizer_args") or "")
    if "weight_decay" in args:
        result.set("optimizer.weight_decay", number("weight_decay", args.pop("weight_decay")))
    elif name in ("AdamW", "AdamW8bit"):
        # torch's AdamW defaults to 0.01 too, but say it so the file is explicit.
        result.set("optimizer.weight_decay", 0.01)
    else:
        result.set("optimizer.weight_decay", 0.0)
    if args:
        result.set("optimizer.args", args)
    learning_rate = take("learning_rate")
    unet_lr = take("unet_lr")
    te_lr = take("text_encoder_lr")
    base_lr = None if blank(learning_rate) else number("learning_rate", learning_rate)
    unet = base_lr if neutral(unet_lr) else number("unet_lr", unet_lr)
    if unet is not None:
        result.set("optimizer.unet_lr", unet)
    if not blank(te_lr):
        te = number("text_encoder_lr", te_lr)
        if te == 0:
            result.set("network.train_text_encoders", False)
            result.notes.append("text_encoder_lr = 0: the text encoders are not trained")
        else:
            result.set("optimizer.text_encoder_lr", te)
    grad_norm = take("max_grad_norm")
    if not blank(grad_norm):
        result.set("optimizer.max_grad_norm", number("max_grad_norm", grad_norm))


def _schedule(take, result: KohyaImport) -> None:
    """Learning-rate schedule and warmup."""
    # Schedule: kohya's lr_warmup is a percentage of all steps.
    scheduler = take("lr_scheduler") or "constant"
    if scheduler in SCHEDULERS:
        result.set("scheduler.name", scheduler)
    else:
        result.unmapped.append(("lr_scheduler", scheduler, "not supported; using cosine"))
        result.set("scheduler.name", "cosine")
    warmup = take("lr_warmup")
    warmup_ratio = 0.0 if blank(warmup) else number("lr_warmup", warmup) / 100.0
    warmup_steps = take("lr_warmup_steps")
    if not neutral(warmup_steps):
        result.set("scheduler.warmup_steps", number("lr_warmup_steps", warmup_steps, int))
        result.set("scheduler.warmup_ratio", 0.0)
    else:
        result.set("scheduler.warmup_ratio", warmup_ratio)
        result.set("scheduler.warmup_steps", 0)
    if result.data["scheduler"]["name"] == "constant" and (warmup_ratio or not neutral(warmup_steps)):
        result.set("scheduler.name", "constant_with_warmup")
        result.notes.append("lr_scheduler constant with a warmup became constant_with_warmup")
    cycles = take("lr_scheduler_num_cycles")
    if not blank(cycles):
        result.set("scheduler.cycles", max(1, number("lr_scheduler_num_cycles", cycles, int)))
    power = take("lr_scheduler_power")
    if not blank(power):
        result.set("scheduler.power", number("lr_scheduler_power", power))


def _training(take, result: KohyaImport) -> None:
    """Epochs, steps, batch, precision, noise."""
    # Training loop.
    epochs = take("max_train_epochs")
    if blank(epochs):
        epochs = take("epoch")
    else:
        take("epoch")  # the GUI writes both; max_train_epochs wins
    if not blank(epochs):
        result.set("training.epochs", number("epoch", epochs, int))
    max_steps = take("max_train_steps")
    if not neutral(max_steps):
        result.set("training.max_steps", number("max_train_steps", max_steps, int))
    for key, target, kind in (
        ("train_batch_size", "training.batch_size", int),
        ("gradient_accumulation_steps", "training.gradient_accumulation_steps", int),
        ("min_snr_gamma", "training.min_snr_gamma", float),
        ("scale_weight_norms", "training.scale_weight_norms", float),
    ):
        value = take(key)
        if not blank(value):
            result.set(target, number(key, value, kind))
    seed = take("seed")
    if not blank(seed):
        result.set("training.seed", number("seed", seed, int))
    for key, target in (("gradient_checkpointing", "training.gradient_checkpointing"),):
        value = take(key)
        if isinstance(value, bool):
            result.set(target, value)
    precision = take("mixed_precision")
    if not blank(precision):
        if precision not in PRECISIONS:
            raise KohyaImportError(f"mixed_precision {precision!r} is not known", "use fp16, bf16 or no")
        result.set("training.mixed_precision", "no" if PRECISIONS[precision] == "fp32" else PRECISIONS[precision])
    noise_offset = take("noise_offset")
    noise_type = take("noise_offset_type") or "Original"
    if not neutral(noise_offset):
        if noise_type == "Original":
            result.set("training.noise_offset", number("noise_offset", noise_offset))
        else:
            result.unmapped.append(
                ("noise_offset", noise_offset, f"{noise_type} noise is not supported; only the original offset noise")
            )
    for key in ("multires_noise_iterations", "multires_noise_discount"):
        value = take(key)
        if noise_type == "Multires" and not neutral(value):
            result.unmapped.append((key, value, "multires noise is not supported"))


def _saving(take, result: KohyaImport) -> None:
    """What is saved, how often."""
    # Saving.
    every = take("save_every_n_epochs")
    if not blank(every):
        result.set("saving.every_n_epochs", number("save_every_n_epochs", every, int))
    save_precision = take("save_precision")
    if not blank(save_precision):
        if save_precision not in PRECISIONS or save_precision == "no":
            raise KohyaImportError(f"save_precision {save_precision!r} is not known", "use fp16, bf16 or float")
        result.set("saving.precision", PRECISIONS[save_precision])


def _dataset(take, result: KohyaImport) -> None:
    """Resolution, buckets, dataset and model paths."""
    # Dataset and buckets.
    resolution = take("max_resolution")
    if not blank(resolution):
        parts = [p for p in re.split(r"[,x\s]+", str(resolution).strip()) if p]
        sizes = [number("max_resolution", p, int) for p in parts]
        if len(sizes) not in (1, 2):
            raise KohyaImportError(f"max_resolution {resolution!r} is not W,H", 'write it like "1024,1024"')
        result.set("dataset.resolution_px", sizes if len(sizes) == 2 else sizes * 2)
    for key, target in (("min_bucket_reso", "dataset.min_bucket_px"), ("max_bucket_reso", "dataset.max_bucket_px")):
        value = take(key)
        if not blank(value):
            result.set(target, number(key, value, int))
    step = take("bucket_reso_steps")
    if not blank(step):
        step_px = number("bucket_reso_steps", step, int)
        if step_px % 32:
            # SDXL latents need sides that are multiples of 32; kohya rounds such buckets anyway.
            result.notes.append(f"bucket_reso_steps {step_px} is not a multiple of 32 (SDXL needs one): using 64")
            step_px = 64
        result.set("dataset.bucket_step_px", step_px)
    for key, target in (
        ("enable_bucket", "dataset.enable_buckets"),
        ("bucket_no_upscale", "dataset.bucket_no_upscale"),
        ("random_crop", "dataset.random_crop"),
        ("shuffle_caption", "captions.shuffle"),
    ):
        value = take(key)
        if isinstance(value, bool):
            result.set(target, value)
    extension = take("caption_extension")
    if not blank(extension):
        dotted = extension if extension.startswith(".") else f".{extension}"
        if "none-use-foldername" in extension:
            result.unmapped.append(
                ("caption_extension", extension, "captions from folder names are not supported; using .txt caption files")
            )
        elif not re.fullmatch(CAPTION_EXTENSION, dotted):
            result.unmapped.append(("caption_extension", extension, "not a caption file extension; using .txt caption files"))
        else:
            result.set("dataset.caption_extension", dotted)
    for key in ("train_data_dir",):
        value = take(key)
        if not blank(value):
            result.set("dataset.path", value)
    for key in ("pretrained_model_name_or_path",):
        value = take(key)
        if not blank(value):
            result.set("model.path", value)
    vae = take("vae")
    if not blank(vae):
        result.set("model.vae", vae)


def _captions(take, result: KohyaImport) -> None:
    """Captions, and v-prediction markers."""
    # Captions.
    keep = take("keep_tokens")
    if not blank(keep):
        result.set("captions.keep_tokens", number("keep_tokens", keep, int))
    separator = take("keep_tokens_separator")
    if not blank(separator):
        result.set("captions.keep_tokens_separator", separator)
    dropout = take("caption_dropout_rate")
    if not blank(dropout):
        result.set("captions.caption_dropout", number("caption_dropout_rate", dropout))
    token_length = take("max_token_length")
    if not blank(token_length):
        result.set("captions.max_token_length", number("max_token_length", token_length, int))

    # v-prediction bases (NoobAI-XL V-Pred): unset or false keeps "auto", which reads the model.
    if take("v_parameterization") is True:
        result.set("model.prediction_type", "v_prediction")
    if take("zero_terminal_snr") is True:
        result.set("training.zero_terminal_snr", True)


def _leftovers(take, raw: dict, handled: set[str], result: KohyaImport) -> None:
    """sd-scripts flags, and every key with no equivalent, said aloud."""
    additional = take("additional_parameters") or ""
    for flag in additional_flags(additional if isinstance(additional, str) else ""):
        if flag[0] == "--network_train_unet_only":
            result.set("network.train_text_encoders", False)
        elif flag[0] == "--v_parameterization":
            result.set("model.prediction_type", "v_prediction")
        elif flag[0] == "--zero_terminal_snr":
            result.set("training.zero_terminal_snr", True)
        else:
            result.unmapped.append(("additional_parameters", " ".join(flag), "extra sd-scripts argument with no equivalent"))

    for key, value in raw.items():
        if key in handled or key == "additional_parameters":
            continue
        if key in AUTOMATIC:
            result.automatic.append((key, value, AUTOMATIC[key]))
        elif not neutral(value) and not default_like(key, value):
            result.unmapped.append((key, value, "no equivalent in stylora-tui"))
    comment = raw.get("training_comment")
    if not blank(comment):
        result.notes.append(f"training_comment: {comment}")


def validate_import(result: KohyaImport) -> Config:
    try:
        return build_config(result.data, source=f"imported {Path(result.source).name}")
    except ConfigError as exc:
        lines = "; ".join(p.message for p in exc.problems)
        raise KohyaImportError(f"the imported settings do not validate: {lines}", exc.hint) from None
