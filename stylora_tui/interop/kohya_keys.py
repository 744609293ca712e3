"""What the kohya_ss GUI's preset keys and values mean to stylora-tui: the names it maps,
and the keys stylora-tui handles by itself."""

from __future__ import annotations

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
