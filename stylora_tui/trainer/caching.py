"""Latents encoded before step 1, without idling the GPU on JPEG decoding.

Decoding and LANCZOS-resizing a 2048x3072 JPEG takes about half a second of one core, far
longer than its VAE encode on a GPU: images are decoded and resized in a thread pool (Pillow
releases the GIL while it decodes and resizes) a few ahead of the encoder, and encoded in
batches of one bucket's images on CUDA. A batch the GPU has no memory for is encoded one
image at a time, and later batches stay at that size.
"""

from __future__ import annotations

import os
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import torch

from stylora_tui.run import events as ev
from stylora_tui.trainer.data import LatentCache, TrainItem, encode_latents, load_pixels

# Pixels per VAE encode batch on CUDA: two 1024x1536 images; the encoder's activations for
# that fit beside the frozen base model on a 24 GB card.
BATCH_PIXELS = 2 * 1024 * 1536
PROGRESS_EVERY_S = 1.0


def decode_workers() -> int:
    return max(1, min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))


def batch_limit(item: TrainItem, device: torch.device) -> int:
    """Images per encode: one on a CPU (batching gains nothing there, and costs memory)."""
    if device.type != "cuda":
        return 1
    return max(1, BATCH_PIXELS // (item.bucket[0] * item.bucket[1]))


def cache_latents(
    items: list[TrainItem], cache: LatentCache, vae, dtype: torch.dtype, reporter, intents=None, workers: int | None = None
) -> str:
    """Encode what the cache lacks; returns the reason when a stop arrives meanwhile (the
    latents finished so far stay cached)."""
    total = len(items)
    # Grouped by bucket (a dataset lists its aspect ratios mixed): a batch holds one bucket.
    missing = sorted((item for item in items if not cache.path(item, item.center_crop).is_file()), key=lambda item: item.bucket)
    done = total - len(missing)
    last_emit = 0.0

    def progressed(count: int) -> None:
        nonlocal done, last_emit
        done += count
        if done == total or time.monotonic() - last_emit > PROGRESS_EVERY_S:
            reporter.emit(ev.CacheProgress(done=done, total=total))
            last_emit = time.monotonic()

    if not missing:
        progressed(0)
        return ""
    device = next(vae.parameters()).device
    workers = workers or decode_workers()
    out_of_memory = False
    with ThreadPoolExecutor(workers, thread_name_prefix="decode") as pool:
        queue: deque = deque()
        upcoming = iter(missing)

        def fill() -> None:
            # A bounded window ahead: decoded 2048x3072 images are 75 MB each as float32.
            while len(queue) < 2 * workers and (item := next(upcoming, None)) is not None:
                queue.append((item, pool.submit(load_pixels, item, item.center_crop)))

        fill()
        batch: list[tuple[TrainItem, torch.Tensor]] = []
        while queue:
            reason = intents.stop_reason() if intents is not None else ""
            if reason:
                for _, future in queue:
                    future.cancel()
                return reason
            item, future = queue.popleft()
            batch.append((item, future.result()))
            fill()
            limit = 1 if out_of_memory else batch_limit(item, device)
            if len(batch) >= limit or not queue or queue[0][0].bucket != item.bucket:
                out_of_memory = encode_batch(batch, cache, vae, dtype) or out_of_memory
                progressed(len(batch))
                batch = []
    return ""


def encode_batch(batch: list[tuple[TrainItem, torch.Tensor]], cache: LatentCache, vae, dtype: torch.dtype) -> bool:
    """Encode and cache one bucket's images; True when the GPU ran out of memory for them
    together (they were then encoded one at a time)."""
    out_of_memory = False
    try:
        latents = encode_latents(vae, torch.stack([pixels for _, pixels in batch]), dtype)
    except torch.cuda.OutOfMemoryError:
        torch.cuda.empty_cache()
        latents = torch.cat([encode_latents(vae, pixels.unsqueeze(0), dtype) for _, pixels in batch])
        out_of_memory = True
    for (item, _), latent in zip(batch, latents):
        cache.put(item, item.center_crop, latent)
    return out_of_memory
