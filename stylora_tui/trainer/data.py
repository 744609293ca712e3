"""Training data: images into buckets, cached latents, SDXL time ids, deterministic batches.

Buckets come from the same code the dataset doctor uses. Each image is decoded once,
EXIF-transposed, alpha composited on white, resized to cover its bucket and cropped.
Latents are cached by (image content, bucket, crop, VAE) outside the user's dataset, so
they are reused across runs. Batch order depends only on (seed, epoch): a resumed run
regenerates the same epoch and skips to its position.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import torch

from stylora_tui import paths
from stylora_tui.atomic import replace_with
from stylora_tui.config.schema import Config
from stylora_tui.dataset.buckets import BucketAssigner, spec_for
from stylora_tui.dataset.captions import TrainingCaption, training_caption
from stylora_tui.dataset.holdout import holdout
from stylora_tui.dataset.reading import open_regular
from stylora_tui.dataset.scan import DatasetScan

LATENT_CACHE_VERSION = 1


@dataclass(frozen=True)
class TrainItem:
    index: int
    path: Path
    rel: str
    sha256: str
    repeats: int
    size: tuple[int, int]  # as displayed
    bucket: tuple[int, int]
    resized: tuple[int, int]
    caption: TrainingCaption

    @property
    def center_crop(self) -> tuple[int, int]:
        """(left, top) pixels cut from the resized image by a centered crop."""
        return ((self.resized[0] - self.bucket[0]) // 2, (self.resized[1] - self.bucket[1]) // 2)

    def time_ids(self, crop: tuple[int, int]) -> list[int]:
        # SDXL micro-conditioning: original size (h, w), crop top-left (top, left) = the
        # pixels actually cut (the SDXL paper's meaning, not kohya's letterbox offset),
        # target size (h, w).
        return [self.size[1], self.size[0], crop[1], crop[0], self.bucket[1], self.bucket[0]]


def build_items(scan: DatasetScan, config: Config) -> tuple[list[TrainItem], list[TrainItem]]:
    """(training items, held-out validation items)."""
    assigner = BucketAssigner(spec_for(config))
    caps = config.captions
    held = holdout([i.rel for i in scan.usable], config.validation.holdout_images, config.training.seed)
    items: list[TrainItem] = []
    validation: list[TrainItem] = []
    for image in scan.usable:
        placement = assigner.place(image.info.width, image.info.height)
        text = image.caption.text if image.caption is not None else ""
        arranged = training_caption(
            text,
            trigger=caps.trigger.strip(),
            quality_tags=config.quality_tags,
            keep_tokens=caps.keep_tokens,
            keep_tokens_separator=caps.keep_tokens_separator,
        )
        target = validation if image.rel in held else items
        target.append(
            TrainItem(
                len(target),
                image.path,
                image.rel,
                image.info.sha256,
                image.repeats,
                (image.info.width, image.info.height),
                placement.bucket,
                placement.resized,
                arranged,
            )
        )
    return items, validation


def load_pixels(item: TrainItem, crop: tuple[int, int]) -> torch.Tensor:
    """The image as trained: (3, H, W) in [-1, 1]."""
    import numpy as np
    from PIL import Image, ImageOps

    with open_regular(item.path) as handle, Image.open(handle) as opened:
        image = ImageOps.exif_transpose(opened)
        if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
            background = Image.new("RGBA", image.size, (255, 255, 255, 255))
            background.alpha_composite(image.convert("RGBA"))
            image = background
        image = image.convert("RGB")
    if image.size != item.resized:
        image = image.resize(item.resized, Image.Resampling.LANCZOS)
    left, top = crop
    image = image.crop((left, top, left + item.bucket[0], top + item.bucket[1]))
    array = torch.from_numpy(np.asarray(image, dtype=np.float32).copy())
    return (array.permute(2, 0, 1) / 127.5) - 1.0


def vae_fingerprint(vae) -> str:
    """Identifies the VAE's weights (config plus a sample of every tensor) for the cache key."""
    digest = hashlib.sha256(json.dumps(dict(vae.config), sort_keys=True, default=str).encode())
    for name, tensor in sorted(vae.state_dict().items()):
        flat = tensor.detach().flatten()
        digest.update(name.encode())
        digest.update(flat[:: max(1, flat.numel() // 64)][:64].float().cpu().numpy().tobytes())
    return digest.hexdigest()[:20]


class LatentCache:
    """Latents on disk by (image sha256, bucket, resized size, crop) under one VAE's folder."""

    def __init__(self, vae_id: str, root: Path | None = None) -> None:
        self.folder = (root or paths.cache_dir() / "latents") / f"v{LATENT_CACHE_VERSION}-{vae_id}"
        self.folder.mkdir(parents=True, exist_ok=True)

    def path(self, item: TrainItem, crop: tuple[int, int]) -> Path:
        name = (
            f"{item.sha256}-{item.bucket[0]}x{item.bucket[1]}-{item.resized[0]}x{item.resized[1]}-{crop[0]}_{crop[1]}.safetensors"
        )
        return self.folder / item.sha256[:2] / name

    def get(self, item: TrainItem, crop: tuple[int, int]) -> torch.Tensor | None:
        from safetensors.torch import load_file

        path = self.path(item, crop)
        if not path.is_file():
            return None
        try:
            return load_file(path)["latents"]
        except Exception:
            return None  # a damaged cache file is re-encoded

    def put(self, item: TrainItem, crop: tuple[int, int], latents: torch.Tensor) -> None:
        from safetensors.torch import save_file

        path = self.path(item, crop)
        path.parent.mkdir(parents=True, exist_ok=True)
        # A cache entry can be rebuilt: no fsync; the rename alone keeps readers whole.
        replace_with(
            path, lambda tmp: save_file({"latents": latents.detach().to("cpu", torch.float32).contiguous()}, tmp), durable=False
        )


@torch.no_grad()
def encode_latents(vae, pixels: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(B, 3, H, W) -> scaled latents; the VAE never runs in fp16 (NaN/black on SDXL)."""
    device = next(vae.parameters()).device
    latents = vae.encode(pixels.to(device, dtype)).latent_dist.mean
    return latents.float() * vae.config.scaling_factor


def epoch_batches(items: list[TrainItem], batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """Every image `repeats` times, shuffled within its bucket, batched there, batches shuffled."""
    rng = random.Random(f"batches-{seed}-{epoch}")
    by_bucket: dict[tuple[int, int], list[int]] = defaultdict(list)
    for item in items:
        by_bucket[item.bucket].extend([item.index] * item.repeats)
    batches = []
    for bucket in sorted(by_bucket):
        members = by_bucket[bucket]
        rng.shuffle(members)
        batches.extend(members[i : i + batch_size] for i in range(0, len(members), batch_size))
    rng.shuffle(batches)
    return batches


def caption_for_step(item: TrainItem, config: Config, seed: int, epoch: int, batch_index: int, slot: int) -> str:
    """The caption text of one sample: shuffled and dropped out deterministically."""
    caps = config.captions
    rng = random.Random(f"caption-{seed}-{epoch}-{batch_index}-{slot}")
    if caps.caption_dropout and rng.random() < caps.caption_dropout:
        return ""
    return item.caption.text(rng if caps.shuffle else None)


def random_crop(item: TrainItem, seed: int, epoch: int, batch_index: int, slot: int) -> tuple[int, int]:
    """(left, top) of a random crop of the resized image, as kohya's random_crop does: a
    fresh one each time the image is seen, drawn from its own RNG so a resumed run crops
    exactly as an uninterrupted one."""
    rng = random.Random(f"crop-{seed}-{epoch}-{batch_index}-{slot}")
    spare_w, spare_h = item.resized[0] - item.bucket[0], item.resized[1] - item.bucket[1]
    return rng.randint(0, spare_w), rng.randint(0, spare_h)


def captions_are_static(config: Config) -> bool:
    return not config.captions.shuffle and not config.captions.caption_dropout
