"""Rules that involve more than one config field (a network's alpha against its dim, the
buckets against the resolution, warmup against the steps, captions against the trigger),
each a finding that says what to change."""

from __future__ import annotations

from stylora_tui.config.schema import Config
from stylora_tui.findings import Finding, Severity


def problem(code: str, key: str, message: str, hint: str = "") -> Finding:
    return Finding(Severity.ERROR, code, message, hint, key)


def cross_check(config: Config, total_steps: int | None = None) -> list[Finding]:
    """Rules that involve more than one field; `total_steps` enables the warmup check."""
    return [*_network_rules(config), *_bucket_rules(config), *_schedule_rules(config, total_steps), *_caption_rules(config)]


def _network_rules(config: Config) -> list[Finding]:
    """Alpha against dim, and a preset that trains no text encoder."""
    problems: list[Finding] = []
    net = config.network
    if net.alpha > net.dim:
        problems.append(
            problem(
                "config-alpha",
                "network.alpha",
                f"network.alpha ({net.alpha:g}) is above network.dim ({net.dim}): the update would be scaled by {net.alpha / net.dim:.2f}",
                f"use alpha <= dim; half of dim is the usual pairing (alpha = {net.dim / 2:g})",
            )
        )
    if net.algo == "locon" and net.conv_alpha > net.conv_dim:
        problems.append(
            problem(
                "config-alpha",
                "network.conv_alpha",
                f"network.conv_alpha ({net.conv_alpha:g}) is above network.conv_dim ({net.conv_dim})",
                f"use conv_alpha <= conv_dim (conv_alpha = {net.conv_dim / 2:g} is usual)",
            )
        )
    if net.preset == "unet-transformer-only" and net.train_text_encoders:
        problems.append(
            problem(
                "config-conflict",
                "network.train_text_encoders",
                "network.preset 'unet-transformer-only' trains no text encoder, but train_text_encoders is true",
                "set network.train_text_encoders = false, or choose preset 'full' or 'attn-mlp'",
            )
        )
    return problems


def _bucket_rules(config: Config) -> list[Finding]:
    """Bucket sides against the resolution."""
    problems: list[Finding] = []
    ds = config.dataset
    if ds.min_bucket_px > ds.max_bucket_px:
        problems.append(
            problem(
                "config-conflict",
                "dataset.min_bucket_px",
                f"dataset.min_bucket_px ({ds.min_bucket_px}) is above max_bucket_px ({ds.max_bucket_px})",
                "make min_bucket_px <= max_bucket_px (256 and 2048 are usual)",
            )
        )
    for side in ds.resolution_px:
        if ds.enable_buckets and side % ds.bucket_step_px:
            problems.append(
                problem(
                    "config-conflict",
                    "dataset.resolution_px",
                    f"resolution side {side} is not a multiple of bucket_step_px ({ds.bucket_step_px})",
                    f"use {side - side % ds.bucket_step_px} or {side - side % ds.bucket_step_px + ds.bucket_step_px}",
                )
            )
            break
    if ds.enable_buckets and max(ds.resolution_px) > ds.max_bucket_px:
        problems.append(
            problem(
                "config-conflict",
                "dataset.max_bucket_px",
                f"dataset.max_bucket_px ({ds.max_bucket_px}) is below the resolution ({max(ds.resolution_px)})",
                f"raise max_bucket_px to at least {max(ds.resolution_px)} (2048 is usual)",
            )
        )
    return problems


def _schedule_rules(config: Config, total_steps: int | None) -> list[Finding]:
    """Warmup against the schedule and the run's length."""
    problems: list[Finding] = []
    tr, sch = config.training, config.scheduler
    if sch.warmup_steps and sch.warmup_ratio:
        problems.append(
            problem(
                "config-conflict",
                "scheduler.warmup_steps",
                f"both scheduler.warmup_steps ({sch.warmup_steps}) and warmup_ratio ({sch.warmup_ratio:g}) are set",
                "set one of them to 0",
            )
        )
    if sch.name == "constant" and (sch.warmup_steps or sch.warmup_ratio):
        problems.append(
            problem(
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
            problem(
                "config-warmup",
                "scheduler.warmup_steps",
                f"warmup ({sch.warmup_steps} steps) is not shorter than the run ({run_steps} steps)",
                f"use fewer warmup steps (5% would be {max(1, run_steps // 20)}) or warmup_ratio",
            )
        )
    return problems


def _caption_rules(config: Config) -> list[Finding]:
    """The keep-tokens separator against the tag separator."""
    problems: list[Finding] = []
    if config.captions.keep_tokens_separator and "," in config.captions.keep_tokens_separator:
        problems.append(
            problem(
                "config-conflict",
                "captions.keep_tokens_separator",
                "captions.keep_tokens_separator must not contain a comma (tags are split on commas)",
                "use a marker such as '|||'",
            )
        )
    return problems
