"""kohya interop: import kohya_ss GUI presets, export sd-scripts config files.

Import reads the GUI's JSON (string-typed numbers, `lr_warmup` in percent, optimizer
arguments as one shell-quoted string, `max_resolution` as "W,H") and produces a stylora
preset. Nothing is silently dropped: every key that would change training and has no
equivalent is reported in `unmapped`; keys stylora-tui handles by itself (latent caching,
attention kernels, data-loader workers) are reported in `automatic`.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stylora_tui.config.schema import Config, build_config
from stylora_tui.dataset.layout import repeat_folders
from stylora_tui.errors import ConfigError, KohyaImportError

LOCON_TYPES = {"LyCORIS/LoCon", "Kohya LoCon", "LoCon"}
LORA_TYPES = {"Standard"}
TARGET_PRESETS = {"full": "full", "attn-mlp": "attn-mlp", "unet-transformer-only": "unet-transformer-only"}
OPTIMIZERS = {
    "AdamW": ("AdamW", ""),
    "AdamW8bit": ("AdamW8bit", ""),
    "PagedAdamW": ("AdamW", "paged variant not needed: plain AdamW"),
    "PagedAdamW8bit": ("AdamW8bit", "paged variant not needed: plain AdamW8bit"),
    "PagedAdamW32bit": ("AdamW", "paged variant not needed: plain AdamW"),
    "Prodigy": ("Prodigy", ""),
    "Adafactor": ("Adafactor", ""),
}
# D-Adaptation optimizers pick their own step size with lr ~ 1, as Prodigy does.
ADAPTIVE = {"DAdaptation", "DAdaptAdam", "DAdaptAdaGrad", "DAdaptAdan", "DAdaptAdanIP", "DAdaptLion", "DAdaptSGD"}
SCHEDULERS = {"cosine", "cosine_with_restarts", "constant", "constant_with_warmup", "linear", "polynomial"}
PRECISIONS = {"fp16": "fp16", "bf16": "bf16", "no": "no", "float": "fp32", "fp32": "fp32"}

# What stylora-tui decides by itself: accepted, reported, never a training difference.
AUTOMATIC = {
    "cache_latents": "latents are always cached (outside the dataset folder)",
    "cache_latents_to_disk": "latents are always cached on disk",
    "xformers": "PyTorch SDPA attention is used",
    "mem_eff_attn": "PyTorch SDPA attention is used",
    "sdxl_no_half_vae": "the VAE never runs in fp16",
    "max_data_loader_n_workers": "data loading is handled by the trainer",
    "persistent_data_loader_workers": "data loading is handled by the trainer",
    "num_cpu_threads_per_process": "set by accelerate",
    "num_processes": "use `accelerate launch` for several GPUs",
    "num_machines": "use `accelerate launch` for several machines",
    "multi_gpu": "use `accelerate launch` for several GPUs",
    "gpu_ids": "choose GPUs with CUDA_VISIBLE_DEVICES",
    "log_with": "progress goes to events.jsonl and the monitor",
    "sdxl": "stylora-tui trains SDXL only",
    "save_model_as": "adapters are always .safetensors",
    "output_name": "outputs are named after the run",
    "output_dir": "outputs go to runs/<run>/output",
    "logging_dir": "logs go to runs/<run>/logs",
    "training_comment": "kept as a comment in the imported file",
    "vae_batch_size": "chosen by the trainer",
    "train_on_input": "always trained on the inputs",
}


@dataclass
class KohyaImport:
    source: str
    data: dict = field(default_factory=dict)  # the stylora preset mapping
    unmapped: list[tuple[str, Any, str]] = field(default_factory=list)
    automatic: list[tuple[str, Any, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

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
        }


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def _neutral(value: Any) -> bool:
    """A value that asks for nothing (off, zero, empty): its absence changes no training."""
    if _blank(value) or value is False:
        return True
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0:
        return True
    if isinstance(value, str):
        try:
            return float(value) == 0
        except ValueError:
            return value.strip().lower() in ("false", "none", "0")
    return False


def _number(key: str, value: Any, kind: type = float) -> Any:
    if isinstance(value, bool):
        raise KohyaImportError(f"{key} = {value!r} is not a number", "fix the value in the kohya preset")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise KohyaImportError(f"{key} = {value!r} is not a number", "fix the value in the kohya preset") from None
    if kind is int:
        if not number.is_integer():
            raise KohyaImportError(f"{key} = {value!r} is not a whole number", "fix the value in the kohya preset")
        return int(number)
    return number


def _arg_value(raw: str) -> Any:
    lowered = raw.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "none":
        return ""
    if raw.startswith("(") and raw.endswith(")") or raw.startswith("[") and raw.endswith("]"):
        return [_arg_value(part.strip()) for part in raw[1:-1].split(",") if part.strip()]
    try:
        number = float(raw)
    except ValueError:
        return raw
    return int(number) if re.fullmatch(r"-?\d+", raw) else number


def parse_optimizer_args(text: str) -> dict[str, Any]:
    """`"d0=1e-5" "decouple=True"` or `weight_decay=0.45 betas=0.9,0.99` → a dict."""
    args: dict[str, Any] = {}
    for token in shlex.split(text or ""):
        if "=" not in token:
            raise KohyaImportError(f"optimizer argument {token!r} is not key=value", "fix optimizer_args in the kohya preset")
        key, raw = token.split("=", 1)
        if "," in raw and not raw.startswith(("(", "[")):
            raw = f"({raw})"
        args[key.strip()] = _arg_value(raw.strip())
    return args


def import_kohya(path: Path) -> KohyaImport:
    try:
        return _import_kohya(path)
    except (TypeError, AttributeError) as exc:
        # A hand-edited preset with a list or table where the GUI writes a string or number.
        raise KohyaImportError(f"{path.name} holds a value of an unexpected type ({exc})",
                               "export the preset again from the kohya_ss GUI (Configuration > Save)") from None


def _import_kohya(path: Path) -> KohyaImport:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KohyaImportError(f"{path} does not exist", "give the path of a kohya_ss GUI preset (.json)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise KohyaImportError(f"{path} is not a kohya_ss JSON preset: {exc}", "export the preset from the kohya_ss GUI (Configuration > Save)") from None
    except RecursionError:
        raise KohyaImportError(f"{path} nests too deeply to be a kohya_ss preset", "export the preset from the kohya_ss GUI") from None
    if not isinstance(raw, dict):
        raise KohyaImportError(f"{path} is not a kohya_ss JSON preset (expected an object)", "export the preset from the kohya_ss GUI")
    result = KohyaImport(source=str(path))
    handled: set[str] = set()

    def take(key: str) -> Any:
        handled.add(key)
        return raw.get(key)

    lora_type = take("LoRA_type") or "Standard"
    if not isinstance(lora_type, str):
        raise KohyaImportError(f"{path.name}: LoRA_type is {lora_type!r}, not a name", 'the GUI writes a string such as "LyCORIS/LoCon" or "Standard"')
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
    if algo == "locon" and not _blank(preset):
        if preset in TARGET_PRESETS:
            result.set("network.preset", TARGET_PRESETS[preset])
        else:
            result.unmapped.append(("LyCORIS_preset", preset, "no equivalent target set; using 'full' (full, attn-mlp, unet-transformer-only exist)"))

    for key, target in (("network_dim", "network.dim"), ("network_alpha", "network.alpha")):
        value = take(key)
        if not _blank(value):
            result.set(target, _number(key, value, int if key == "network_dim" else float))
    for key, target in (("conv_dim", "network.conv_dim"), ("conv_alpha", "network.conv_alpha")):
        value = take(key)
        if _blank(value):
            continue
        if algo == "locon":
            result.set(target, _number(key, value, int if key == "conv_dim" else float))
        elif not _neutral(value) and _number(key, value) != 1:
            result.unmapped.append((key, value, "standard LoRA trains no convolutions; choose LoCon to train them"))

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
        result.set("optimizer.weight_decay", _number("weight_decay", args.pop("weight_decay")))
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
    base_lr = None if _blank(learning_rate) else _number("learning_rate", learning_rate)
    unet = base_lr if _neutral(unet_lr) else _number("unet_lr", unet_lr)
    if unet is not None:
        result.set("optimizer.unet_lr", unet)
    if not _blank(te_lr):
        te = _number("text_encoder_lr", te_lr)
        if te == 0:
            result.set("network.train_text_encoders", False)
            result.notes.append("text_encoder_lr = 0: the text encoders are not trained")
        else:
            result.set("optimizer.text_encoder_lr", te)
    grad_norm = take("max_grad_norm")
    if not _blank(grad_norm):
        result.set("optimizer.max_grad_norm", _number("max_grad_norm", grad_norm))

    # Schedule: kohya's lr_warmup is a percentage of all steps.
    scheduler = take("lr_scheduler") or "constant"
    if scheduler in SCHEDULERS:
        result.set("scheduler.name", scheduler)
    else:
        result.unmapped.append(("lr_scheduler", scheduler, "not supported; using cosine"))
        result.set("scheduler.name", "cosine")
    warmup = take("lr_warmup")
    warmup_ratio = 0.0 if _blank(warmup) else _number("lr_warmup", warmup) / 100.0
    warmup_steps = take("lr_warmup_steps")
    if not _neutral(warmup_steps):
        result.set("scheduler.warmup_steps", _number("lr_warmup_steps", warmup_steps, int))
        result.set("scheduler.warmup_ratio", 0.0)
    else:
        result.set("scheduler.warmup_ratio", warmup_ratio)
        result.set("scheduler.warmup_steps", 0)
    if result.data["scheduler"]["name"] == "constant" and (warmup_ratio or not _neutral(warmup_steps)):
        result.set("scheduler.name", "constant_with_warmup")
        result.notes.append("lr_scheduler constant with a warmup became constant_with_warmup")
    cycles = take("lr_scheduler_num_cycles")
    if not _blank(cycles):
        result.set("scheduler.cycles", max(1, _number("lr_scheduler_num_cycles", cycles, int)))
    power = take("lr_scheduler_power")
    if not _blank(power):
        result.set("scheduler.power", _number("lr_scheduler_power", power))

    # Training loop.
    epochs = take("max_train_epochs")
    if _blank(epochs):
        epochs = take("epoch")
    else:
        handled.add("epoch")
    if not _blank(epochs):
        result.set("training.epochs", _number("epoch", epochs, int))
    max_steps = take("max_train_steps")
    if not _neutral(max_steps):
        result.set("training.max_steps", _number("max_train_steps", max_steps, int))
    for key, target, kind in (
        ("train_batch_size", "training.batch_size", int),
        ("gradient_accumulation_steps", "training.gradient_accumulation_steps", int),
        ("min_snr_gamma", "training.min_snr_gamma", float),
        ("scale_weight_norms", "training.scale_weight_norms", float),
    ):
        value = take(key)
        if not _blank(value):
            result.set(target, _number(key, value, kind))
    seed = take("seed")
    if not _blank(seed):
        result.set("training.seed", _number("seed", seed, int))
    for key, target in (("gradient_checkpointing", "training.gradient_checkpointing"),):
        value = take(key)
        if isinstance(value, bool):
            result.set(target, value)
    precision = take("mixed_precision")
    if not _blank(precision):
        if precision not in PRECISIONS:
            raise KohyaImportError(f"mixed_precision {precision!r} is not known", "use fp16, bf16 or no")
        result.set("training.mixed_precision", "no" if PRECISIONS[precision] == "fp32" else PRECISIONS[precision])
    noise_offset = take("noise_offset")
    noise_type = take("noise_offset_type") or "Original"
    if not _neutral(noise_offset):
        if noise_type == "Original":
            result.set("training.noise_offset", _number("noise_offset", noise_offset))
        else:
            result.unmapped.append(("noise_offset", noise_offset, f"{noise_type} noise is not supported; only the original offset noise"))
    for key in ("multires_noise_iterations", "multires_noise_discount"):
        take(key)
        if noise_type == "Multires" and not _neutral(raw.get(key)):
            result.unmapped.append((key, raw.get(key), "multires noise is not supported"))

    # Saving.
    every = take("save_every_n_epochs")
    if not _blank(every):
        result.set("saving.every_n_epochs", _number("save_every_n_epochs", every, int))
    save_precision = take("save_precision")
    if not _blank(save_precision):
        if save_precision not in PRECISIONS or save_precision == "no":
            raise KohyaImportError(f"save_precision {save_precision!r} is not known", "use fp16, bf16 or float")
        result.set("saving.precision", PRECISIONS[save_precision])

    # Dataset and buckets.
    resolution = take("max_resolution")
    if not _blank(resolution):
        parts = [p for p in re.split(r"[,x\s]+", str(resolution).strip()) if p]
        sizes = [_number("max_resolution", p, int) for p in parts]
        if len(sizes) not in (1, 2):
            raise KohyaImportError(f"max_resolution {resolution!r} is not W,H", 'write it like "1024,1024"')
        result.set("dataset.resolution_px", sizes if len(sizes) == 2 else sizes * 2)
    for key, target in (("min_bucket_reso", "dataset.min_bucket_px"), ("max_bucket_reso", "dataset.max_bucket_px")):
        value = take(key)
        if not _blank(value):
            result.set(target, _number(key, value, int))
    step = take("bucket_reso_steps")
    if not _blank(step):
        step_px = _number("bucket_reso_steps", step, int)
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
    if not _blank(extension):
        if "none-use-foldername" in extension:
            result.unmapped.append(("caption_extension", extension, "captions from folder names are not supported; using .txt caption files"))
        else:
            result.set("dataset.caption_extension", extension if extension.startswith(".") else f".{extension}")
    for key in ("train_data_dir",):
        value = take(key)
        if not _blank(value):
            result.set("dataset.path", value)
    for key in ("pretrained_model_name_or_path",):
        value = take(key)
        if not _blank(value):
            result.set("model.path", value)
    vae = take("vae")
    if not _blank(vae):
        result.set("model.vae", vae)

    # Captions.
    keep = take("keep_tokens")
    if not _blank(keep):
        result.set("captions.keep_tokens", _number("keep_tokens", keep, int))
    separator = take("keep_tokens_separator")
    if not _blank(separator):
        result.set("captions.keep_tokens_separator", separator)
    dropout = take("caption_dropout_rate")
    if not _blank(dropout):
        result.set("captions.caption_dropout", _number("caption_dropout_rate", dropout))
    token_length = take("max_token_length")
    if not _blank(token_length):
        result.set("captions.max_token_length", _number("max_token_length", token_length, int))

    # v-prediction bases (NoobAI-XL V-Pred): unset or false keeps "auto", which reads the model.
    if take("v_parameterization") is True:
        result.set("model.prediction_type", "v_prediction")
    if take("zero_terminal_snr") is True:
        result.set("training.zero_terminal_snr", True)

    additional = take("additional_parameters") or ""
    for flag in _additional_flags(additional if isinstance(additional, str) else ""):
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
        elif not _neutral(value) and not _default_like(key, value):
            result.unmapped.append((key, value, "no equivalent in stylora-tui"))
    if raw.get("sdxl") is False:
        result.notes.append("this preset was made for SD 1.x/2.x (sdxl = false); check resolution and learning rates for SDXL")
    comment = raw.get("training_comment")
    if not _blank(comment):
        result.notes.append(f"training_comment: {comment}")

    validate_import(result)
    return result


def _default_like(key: str, value: Any) -> bool:
    # kohya's own defaults, and LoKr's factor (-1 = unset) that a LoCon preset still carries.
    defaults = {"unit": 1, "prior_loss_weight": 1.0, "max_timestep": 1000, "clip_skip": 1, "factor": -1}
    try:
        return key in defaults and float(value) == defaults[key]
    except (TypeError, ValueError):
        return False


def _additional_flags(text: str) -> list[list[str]]:
    """Split sd-scripts arguments into [--flag, values...] groups."""
    groups: list[list[str]] = []
    for token in shlex.split(text):
        if token.startswith("--") or not groups:
            groups.append([token])
        else:
            groups[-1].append(token)
    return groups


def validate_import(result: KohyaImport) -> Config:
    try:
        return build_config(result.data, source=f"imported {Path(result.source).name}")
    except ConfigError as exc:
        lines = "; ".join(p.message for p in exc.problems)
        raise KohyaImportError(f"the imported settings do not validate: {lines}", exc.hint) from None


def import_to_toml(result: KohyaImport) -> str:
    """The imported preset as commented TOML, listing what was not carried over."""
    import tomlkit

    doc = tomlkit.document()
    doc.add(tomlkit.comment(f"Imported from the kohya_ss GUI preset {Path(result.source).name} by stylora-tui import-kohya."))
    for note in result.notes:
        doc.add(tomlkit.comment(f"note: {note}"))
    if result.unmapped:
        doc.add(tomlkit.comment("Not carried over (no equivalent in stylora-tui):"))
        for key, value, reason in result.unmapped:
            doc.add(tomlkit.comment(f"  {key} = {json.dumps(value)}: {reason}"))
    doc.add("schema_version", 1)
    for section, values in result.data.items():
        table = tomlkit.table()
        for key, value in values.items():
            table.add(key, value)
        doc.add(section, table)
    return tomlkit.dumps(doc)


# ---------------------------------------------------------------- export


def export_sd_scripts(config: Config, run_name: str, output_dir: Path) -> tuple[dict, dict]:
    """sd-scripts `--config_file` and `--dataset_config` mappings that reproduce `config`."""
    net, opt, sch, tr, ds, cap = config.network, config.optimizer, config.scheduler, config.training, config.dataset, config.captions
    network_args = [f"algo={net.algo}", f"preset={net.preset}"]
    if net.algo == "locon":
        network_args += [f"conv_dim={net.conv_dim}", f"conv_alpha={net.conv_alpha:g}"]
    optimizer_args = [f"weight_decay={opt.weight_decay:g}"] + [f"{k}={_format_arg(v)}" for k, v in opt.args.items()]
    train: dict[str, Any] = {
        "pretrained_model_name_or_path": config.model.path,
        "output_dir": str(output_dir),
        "output_name": f"{run_name}-sd-scripts",
        "save_model_as": "safetensors",
        "network_module": "lycoris.kohya",
        "network_dim": net.dim,
        "network_alpha": net.alpha,
        "network_args": network_args,
        "learning_rate": opt.unet_lr,
        "unet_lr": opt.unet_lr,
        "text_encoder_lr": opt.text_encoder_lr,
        "optimizer_type": opt.name,
        "optimizer_args": optimizer_args,
        "max_grad_norm": opt.max_grad_norm,
        "lr_scheduler": sch.name,
        "lr_scheduler_num_cycles": sch.cycles,
        "lr_scheduler_power": sch.power,
        "max_train_epochs": tr.epochs,
        "train_batch_size": tr.batch_size,
        "gradient_accumulation_steps": tr.gradient_accumulation_steps,
        "mixed_precision": tr.mixed_precision,
        "save_precision": "float" if config.saving.precision == "fp32" else config.saving.precision,
        "gradient_checkpointing": tr.gradient_checkpointing,
        "seed": tr.seed,
        "save_every_n_epochs": config.saving.every_n_epochs,
        "max_token_length": cap.max_token_length,
        "cache_latents": True,
        "cache_latents_to_disk": True,
        "sdpa": True,
        "no_half_vae": True,
    }
    # sd-scripts reads a float below 1 as a fraction of all steps.
    if sch.warmup_steps:
        train["lr_warmup_steps"] = sch.warmup_steps
    elif sch.warmup_ratio:
        train["lr_warmup_steps"] = sch.warmup_ratio
    if tr.max_steps:
        train["max_train_steps"] = tr.max_steps
    if tr.min_snr_gamma:
        train["min_snr_gamma"] = tr.min_snr_gamma
    if tr.scale_weight_norms:
        train["scale_weight_norms"] = tr.scale_weight_norms
    if tr.noise_offset:
        train["noise_offset"] = tr.noise_offset
    if not net.train_text_encoders:
        train["network_train_unet_only"] = True
    if config.model.vae:
        train["vae"] = config.model.vae
    if config.model.prediction_type == "v_prediction":
        train["v_parameterization"] = True
    if tr.zero_terminal_snr is True:
        train["zero_terminal_snr"] = True

    prefix_tags = [t for t in (cap.trigger, *config.quality_tags) if t]
    general: dict[str, Any] = {
        "shuffle_caption": cap.shuffle,
        "caption_extension": ds.caption_extension,
        # sd-scripts pins keep_tokens tags after it has added caption_prefix.
        "keep_tokens": max(cap.keep_tokens, len(prefix_tags)) if prefix_tags else cap.keep_tokens,
    }
    if cap.keep_tokens_separator:
        general["keep_tokens_separator"] = cap.keep_tokens_separator
    if cap.caption_dropout:
        general["caption_dropout_rate"] = cap.caption_dropout
    dataset_entry: dict[str, Any] = {
        "resolution": list(config.resolution),
        "batch_size": tr.batch_size,
        "enable_bucket": ds.enable_buckets,
        "min_bucket_reso": ds.min_bucket_px,
        "max_bucket_reso": ds.max_bucket_px,
        "bucket_reso_steps": ds.bucket_step_px,
        "bucket_no_upscale": ds.bucket_no_upscale,
        "subsets": [],
    }
    dataset_path = Path(ds.path) if ds.path else None
    subsets = repeat_folders(dataset_path, ds.repeats) if dataset_path and dataset_path.is_dir() else [(dataset_path or Path("DATASET"), ds.repeats)]
    for folder, repeats in subsets:
        subset: dict[str, Any] = {"image_dir": str(folder), "num_repeats": repeats}
        # stylora-tui puts the trigger and quality tags first at training time (moving or
        # adding them); sd-scripts can only prepend (caption_prefix), so it prepends only the
        # tags no caption of the folder holds yet: never a doubled trigger.
        missing = _tags_missing_everywhere(folder, ds.caption_extension, prefix_tags)
        if missing:
            subset["caption_prefix"] = ", ".join(missing) + ", "
        if ds.random_crop:
            subset["random_crop"] = True
        dataset_entry["subsets"].append(subset)
    return train, {"general": general, "datasets": [dataset_entry]}


def _tags_missing_everywhere(folder: Path, extension: str, tags: list[str]) -> list[str]:
    """The prefix tags no caption in `folder` holds (all of them when there are no captions)."""
    from stylora_tui.dataset.captions import same_tag, split_tags
    from stylora_tui.dataset.scan import read_caption

    captions = [read_caption(p).text for p in sorted(folder.glob(f"*{extension}")) if p.is_file()] if folder.is_dir() else []
    return [tag for tag in tags if not any(same_tag(t, tag) for text in captions for t in split_tags(text))]


def captions_without(folder: Path, extension: str, tag: str) -> int:
    """How many captions in `folder` lack `tag`: sd-scripts trains those without it."""
    from stylora_tui.dataset.captions import same_tag, split_tags
    from stylora_tui.dataset.scan import read_caption

    if not folder.is_dir():
        return 0
    return sum(1 for p in sorted(folder.glob(f"*{extension}")) if p.is_file()
               and not any(same_tag(t, tag) for t in split_tags(read_caption(p).text)))


def _format_arg(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "(" + ",".join(_format_arg(v) for v in value) + ")"
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def write_export(config: Config, run_name: str, directory: Path, output_dir: Path) -> list[Path]:
    import tomlkit

    train, dataset = export_sd_scripts(config, run_name, output_dir)
    directory.mkdir(parents=True, exist_ok=True)
    config_path = directory / f"{run_name}-config.toml"
    dataset_path = directory / f"{run_name}-dataset.toml"
    header = (
        f"# sd-scripts config for {run_name}, written by stylora-tui export-kohya.\n"
        f"# Train with: accelerate launch sdxl_train_network.py --config_file {shlex.quote(config_path.name)} "
        f"--dataset_config {shlex.quote(dataset_path.name)}\n"
    )
    config_path.write_text(header + tomlkit.dumps(train), encoding="utf-8")
    dataset_path.write_text(
        f"# sd-scripts dataset config for {run_name}, written by stylora-tui export-kohya.\n"
        "# caption_prefix adds the trigger (and quality tags) where no caption holds them yet.\n"
        + tomlkit.dumps(dataset),
        encoding="utf-8",
    )
    return [config_path, dataset_path]
