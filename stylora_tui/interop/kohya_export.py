"""sd-scripts `--config_file` and `--dataset_config` TOMLs that reproduce a stylora-tui run
(`stylora-tui export-kohya`), for people who want to train the same recipe with kohya."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from stylora_tui.config.schema import Config
from stylora_tui.dataset.layout import repeat_folders


def export_sd_scripts(config: Config, run_name: str, output_dir: Path) -> tuple[dict, dict]:
    """sd-scripts `--config_file` and `--dataset_config` mappings that reproduce `config`."""
    return _training_file(config, run_name, output_dir), _dataset_file(config)


def _training_file(config: Config, run_name: str, output_dir: Path) -> dict[str, Any]:
    net, opt, sch, tr, cap = config.network, config.optimizer, config.scheduler, config.training, config.captions
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
        # "auto" is stylora-tui's own (decided on the GPU): sd-scripts gets the safe choice.
        "gradient_checkpointing": tr.gradient_checkpointing is not False,
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
    return train


def _dataset_file(config: Config) -> dict[str, Any]:
    tr, ds, cap = config.training, config.dataset, config.captions
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
    subsets = (
        repeat_folders(dataset_path, ds.repeats)
        if dataset_path and dataset_path.is_dir()
        else [(dataset_path or Path("DATASET"), ds.repeats)]
    )
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
    return {"general": general, "datasets": [dataset_entry]}


def _tags_missing_everywhere(folder: Path, extension: str, tags: list[str]) -> list[str]:
    """The prefix tags no caption in `folder` holds (all of them when there are no captions)."""
    from stylora_tui.dataset.captions import same_tag, split_tags
    from stylora_tui.dataset.scan import read_caption

    captions = [read_caption(p).text for p in sorted(folder.glob(f"*{extension}")) if p.is_file()] if folder.is_dir() else []
    return [tag for tag in tags if not any(same_tag(t, tag) for text in captions for t in split_tags(text))]


def captions_with(folder: Path, extension: str, tag: str) -> tuple[int, int]:
    """(captions in `folder` holding `tag`, captions in all)."""
    from stylora_tui.dataset.captions import same_tag, split_tags
    from stylora_tui.dataset.scan import read_caption

    files = [p for p in sorted(folder.glob(f"*{extension}")) if p.is_file()] if folder.is_dir() else []
    holding = sum(1 for p in files if any(same_tag(t, tag) for t in split_tags(read_caption(p).text)))
    return holding, len(files)


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
        "# caption_prefix adds the trigger (and quality tags) where no caption holds them yet.\n" + tomlkit.dumps(dataset),
        encoding="utf-8",
    )
    return [config_path, dataset_path]
