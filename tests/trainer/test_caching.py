"""Latents before step 1: decoded in worker threads, encoded in batches of one bucket,
the same latents as one at a time, out-of-memory batches split, a stop honoured."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest
import torch

from stylora_tui.run import events as ev
from stylora_tui.trainer import caching
from stylora_tui.trainer.data import LatentCache, TrainItem, encode_latents, load_pixels
from tests.conftest import picture


class PoolingVAE(torch.nn.Module):
    """Stands in for the VAE: latents are 8x8 average pools of the pixels (4 channels), so
    each image's latents are its own whatever the batch; records every batch size."""

    def __init__(self, fail_above: int = 0) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(4, 3))
        self.config = SimpleNamespace(scaling_factor=0.5)
        self.batches: list[int] = []
        self.fail_above = fail_above

    def encode(self, pixels):
        if self.fail_above and pixels.shape[0] > self.fail_above:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (test)")
        self.batches.append(pixels.shape[0])
        pooled = torch.nn.functional.avg_pool2d(pixels, 8)
        return SimpleNamespace(latent_dist=SimpleNamespace(mean=torch.einsum("oc,bchw->bohw", self.weight, pooled)))


class Events:
    def __init__(self) -> None:
        self.emitted = []

    def emit(self, event):
        self.emitted.append(event)


def items_in_two_buckets(folder, tall: int = 5, wide: int = 3) -> list[TrainItem]:
    items = []
    for index in range(tall + wide):
        size = (64, 96) if index < tall else (96, 64)
        path = folder / f"{index:02d}.png"
        picture(index, size).save(path)
        items.append(TrainItem(index, path, path.name, f"{index:064x}", 1, size, size, size, None))
    return items


@pytest.fixture
def two_per_batch(monkeypatch):
    monkeypatch.setattr(caching, "batch_limit", lambda item, device: 2)


def test_batches_hold_one_bucket_and_give_the_same_latents_as_one_at_a_time(tmp_path, two_per_batch):
    items = items_in_two_buckets(tmp_path)
    cache, vae, events = LatentCache("test", tmp_path / "cache"), PoolingVAE(), Events()
    assert caching.cache_latents(items, cache, vae, torch.float32, events) == ""
    assert vae.batches == [2, 2, 1, 2, 1]
    for item in items:
        alone = encode_latents(vae, load_pixels(item, item.center_crop).unsqueeze(0), torch.float32)[0]
        torch.testing.assert_close(cache.get(item, item.center_crop), alone)
    assert events.emitted[-1] == ev.CacheProgress(done=8, total=8)


def test_a_dataset_listing_its_aspect_ratios_mixed_still_fills_whole_batches(tmp_path, monkeypatch):
    monkeypatch.setattr(caching, "batch_limit", lambda item, device: 4)
    tall_and_wide = items_in_two_buckets(tmp_path, tall=4, wide=4)
    mixed = [item for pair in zip(tall_and_wide[:4], tall_and_wide[4:]) for item in pair]
    cache, vae = LatentCache("test", tmp_path / "cache"), PoolingVAE()
    caching.cache_latents(mixed, cache, vae, torch.float32, Events())
    assert vae.batches == [4, 4]
    assert all(cache.get(item, item.center_crop) is not None for item in mixed)


def test_a_second_run_encodes_only_what_is_missing(tmp_path, two_per_batch):
    items = items_in_two_buckets(tmp_path)
    cache = LatentCache("test", tmp_path / "cache")
    caching.cache_latents(items[:4], cache, PoolingVAE(), torch.float32, Events())
    vae, events = PoolingVAE(), Events()
    caching.cache_latents(items, cache, vae, torch.float32, events)
    assert sum(vae.batches) == 4
    assert events.emitted[-1] == ev.CacheProgress(done=8, total=8)


def test_images_decode_in_worker_threads(tmp_path, monkeypatch):
    threads = set()

    def recording(item, crop):
        threads.add(threading.current_thread().name)
        return load_pixels(item, crop)

    monkeypatch.setattr(caching, "load_pixels", recording)
    items = items_in_two_buckets(tmp_path)
    caching.cache_latents(items, LatentCache("test", tmp_path / "cache"), PoolingVAE(), torch.float32, Events(), workers=3)
    assert threads and all(name.startswith("decode") for name in threads)


def test_a_batch_without_gpu_memory_is_encoded_one_at_a_time_from_then_on(tmp_path, two_per_batch):
    items = items_in_two_buckets(tmp_path)
    cache, vae = LatentCache("test", tmp_path / "cache"), PoolingVAE(fail_above=1)
    caching.cache_latents(items, cache, vae, torch.float32, Events())
    assert vae.batches == [1] * 8
    assert all(cache.get(item, item.center_crop) is not None for item in items)


def test_a_stop_while_caching_returns_its_reason_and_keeps_what_was_encoded(tmp_path, two_per_batch):
    asked = []

    class StopAfterThree:
        def stop_reason(self):
            asked.append(1)
            return "stop requested" if len(asked) > 3 else ""

    items = items_in_two_buckets(tmp_path)
    cache = LatentCache("test", tmp_path / "cache")
    assert caching.cache_latents(items, cache, PoolingVAE(), torch.float32, Events(), StopAfterThree()) == "stop requested"
    cached = [item for item in items if cache.get(item, item.center_crop) is not None]
    assert len(cached) == 2


def test_batches_fill_two_practice_images_on_cuda_and_one_on_a_cpu():
    tall = TrainItem(0, None, "a.png", "0" * 64, 1, (1024, 1536), (1024, 1536), (1024, 1536), None)
    small = TrainItem(0, None, "b.png", "0" * 64, 1, (512, 512), (512, 512), (512, 512), None)
    assert caching.batch_limit(tall, torch.device("cuda")) == 2
    assert caching.batch_limit(small, torch.device("cuda")) == 12
    assert caching.batch_limit(tall, torch.device("cpu")) == 1
