"""What goes into an adapter file's metadata: kohya's ss_* keys and the modelspec keys.

A1111/Forge hide a LoRA whose metadata lacks the SDXL marker; CivitAI and the WebUIs
read the ss_* keys (network, learning rates, tag frequency, buckets). Values are strings,
dicts as JSON, as safetensors metadata requires.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone

from stylora_tui.config.schema import Config
from stylora_tui.dataset.captions import split_tags

SDXL_BASE_VERSION = "sdxl_base_v1-0"
MODELSPEC_ARCHITECTURE = "stable-diffusion-xl-v1-base/lora"


@dataclass(frozen=True)
class TrainingFacts:
    run_name: str
    session_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    started_at: float = field(default_factory=time.time)
    num_images: int = 0
    batches_per_epoch: int = 0
    total_steps: int = 0
    warmup_steps: int = 0
    base_model_name: str = ""
    base_model_hash: str = ""
    vae_name: str = ""
    tag_frequency: dict = field(default_factory=dict)
    buckets: tuple[tuple[int, int, int], ...] = ()  # (width, height, images)
    dataset_dirs: dict = field(default_factory=dict)  # folder -> {"n_repeats", "img_count"}
    prediction_type: str = "epsilon"  # or "v_prediction": what the base model predicts
    zero_terminal_snr: bool = False
    gradient_checkpointing: bool = True  # as decided for this run ("auto" resolved on its GPU)


def tag_frequency(captions: list[tuple[str, str]]) -> dict[str, dict[str, int]]:
    """{folder: {tag: count}} from (folder, caption text) pairs, as kohya writes it."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for folder, text in captions:
        counts[folder].update(split_tags(text))
    return {folder: dict(counter) for folder, counter in counts.items()}


def _b(value: bool) -> str:
    return "True" if value else "False"


def adapter_metadata(
    config: Config, facts: TrainingFacts, *, epoch: int, step: int, network_module: str = "lycoris.kohya"
) -> dict[str, str]:
    """Every ss_* and modelspec key of one saved adapter (epoch and step of this save)."""
    finished = time.time()
    return {
        **_run_keys(config, facts, finished),
        **_network_keys(config, network_module),
        **_optimizer_keys(config, facts),
        **_schedule_keys(config, facts, epoch, step),
        **_data_keys(config, facts),
        **_modelspec_keys(config, facts, epoch, finished),
    }


def _run_keys(config: Config, facts: TrainingFacts, finished: float) -> dict[str, str]:
    trigger = config.captions.trigger.strip()
    return {
        "ss_session_id": facts.session_id,
        "ss_training_started_at": f"{facts.started_at:.3f}",
        "ss_training_finished_at": f"{finished:.3f}",
        "ss_output_name": facts.run_name,
        "ss_base_model_version": SDXL_BASE_VERSION,
        "ss_v2": "False",
        "ss_sd_model_name": facts.base_model_name,
        "ss_new_sd_model_hash": facts.base_model_hash,
        "ss_vae_name": facts.vae_name,
        "ss_training_comment": f"trigger: {trigger}" if trigger else "",
    }


def _network_keys(config: Config, network_module: str) -> dict[str, str]:
    net = config.network
    network_args = {"algo": net.algo, "preset": net.preset}
    if net.algo == "locon":
        network_args.update(conv_dim=str(net.conv_dim), conv_alpha=f"{net.conv_alpha:g}")
    return {
        "ss_network_module": network_module,
        "ss_network_dim": str(net.dim),
        "ss_network_alpha": f"{net.alpha:g}",
        "ss_network_args": json.dumps(network_args),
        "ss_network_train_unet_only": _b(not net.trains_text_encoders),
    }


def _optimizer_keys(config: Config, facts: TrainingFacts) -> dict[str, str]:
    opt = config.optimizer
    optimizer_args = {"weight_decay": opt.weight_decay, **opt.args}
    return {
        "ss_learning_rate": f"{opt.unet_lr:g}",
        "ss_unet_lr": f"{opt.unet_lr:g}",
        "ss_text_encoder_lr": f"{opt.text_encoder_lr:g}",
        "ss_optimizer": f"{opt.name}({','.join(f'{k}={v}' for k, v in optimizer_args.items())})",
        "ss_max_grad_norm": f"{opt.max_grad_norm:g}",
        "ss_lr_scheduler": config.scheduler.name,
        "ss_lr_warmup_steps": str(facts.warmup_steps),
        "ss_scale_weight_norms": f"{config.training.scale_weight_norms:g}",
    }


def _schedule_keys(config: Config, facts: TrainingFacts, epoch: int, step: int) -> dict[str, str]:
    tr = config.training
    return {
        "ss_num_epochs": str(tr.epochs),
        "ss_epoch": str(epoch),
        "ss_steps": str(step),
        "ss_max_train_steps": str(facts.total_steps),
        "ss_batch_size_per_device": str(tr.batch_size),
        "ss_total_batch_size": str(tr.batch_size * tr.gradient_accumulation_steps),
        "ss_gradient_accumulation_steps": str(tr.gradient_accumulation_steps),
        "ss_gradient_checkpointing": _b(facts.gradient_checkpointing),
        "ss_mixed_precision": tr.mixed_precision,
        "ss_full_fp16": "False",
        "ss_seed": str(tr.seed),
        "ss_noise_offset": f"{tr.noise_offset:g}",
        "ss_min_snr_gamma": f"{tr.min_snr_gamma:g}",
        # Records of how the adapter was trained, for people and model pages; no WebUI samples by
        # them (ComfyUI and Forge take v-prediction from the base checkpoint's v_pred/ztsnr keys).
        # ss_zero_terminal_snr is sd-scripts' own key. ss_v_parameterization is not: sd-scripts
        # neither writes nor reads it, but merge and inspection tools do, for the same fact that
        # modelspec.prediction_type (which sd-scripts writes) states.
        "ss_v_parameterization": _b(facts.prediction_type == "v_prediction"),
        "ss_zero_terminal_snr": _b(facts.zero_terminal_snr),
    }


def _data_keys(config: Config, facts: TrainingFacts) -> dict[str, str]:
    ds, cap = config.dataset, config.captions
    width, height = config.resolution
    bucket_info = {
        "buckets": {str(i): {"resolution": [w, h], "count": n} for i, (w, h, n) in enumerate(facts.buckets)},
        "mean_img_ar_error": 0.0,
    }
    return {
        "ss_num_train_images": str(facts.num_images),
        "ss_num_reg_images": "0",
        "ss_num_batches_per_epoch": str(facts.batches_per_epoch),
        "ss_clip_skip": "None",
        "ss_max_token_length": str(cap.max_token_length),
        "ss_cache_latents": _b(not ds.random_crop),
        "ss_caption_dropout_rate": f"{cap.caption_dropout:g}",
        "ss_caption_dropout_every_n_epochs": "0",
        "ss_caption_tag_dropout_rate": "0.0",
        "ss_keep_tokens": str(cap.keep_tokens),
        "ss_shuffle_caption": _b(cap.shuffle),
        "ss_color_aug": "False",
        "ss_flip_aug": "False",
        "ss_random_crop": _b(ds.random_crop),
        "ss_resolution": f"({width}, {height})",
        "ss_enable_bucket": _b(ds.enable_buckets),
        "ss_min_bucket_reso": str(ds.min_bucket_px),
        "ss_max_bucket_reso": str(ds.max_bucket_px),
        "ss_bucket_no_upscale": _b(ds.bucket_no_upscale),
        "ss_bucket_info": json.dumps(bucket_info),
        "ss_tag_frequency": json.dumps(facts.tag_frequency),
        "ss_dataset_dirs": json.dumps(facts.dataset_dirs),
        "ss_prior_loss_weight": "1.0",
    }


def _modelspec_keys(config: Config, facts: TrainingFacts, epoch: int, finished: float) -> dict[str, str]:
    width, height = config.resolution
    return {
        "modelspec.sai_model_spec": "1.0.0",
        "modelspec.architecture": MODELSPEC_ARCHITECTURE,
        "modelspec.implementation": "https://github.com/Stability-AI/generative-models",
        "modelspec.title": f"{facts.run_name} e{epoch:04d}" if epoch else facts.run_name,
        "modelspec.resolution": f"{width}x{height}",
        "modelspec.date": datetime.fromtimestamp(finished, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
        "modelspec.prediction_type": "v" if facts.prediction_type == "v_prediction" else "epsilon",
        "modelspec.trigger_phrase": config.captions.trigger.strip(),
        "modelspec.description": f"SDXL style {config.network.algo} adapter trained with stylora-tui ({config.model.family} family)",
    }
