"""The next batch's host work done while the current step runs.

Reading cached latents, stacking them into pinned memory, shuffling and tokenising the
captions: all a pure function of (epoch, batch index), so doing it one batch ahead on a
background thread changes no number (noise and timesteps stay on the loop's thread, drawn
in order from the run's generator). On a GPU the host would otherwise do this work while
the device waits; a batch asked for that was not prepared ahead is prepared on the spot.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

Prepared = TypeVar("Prepared")


class Prefetcher(Generic[Prepared]):
    def __init__(self, prepare: Callable[..., Prepared]) -> None:
        self.prepare = prepare
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="prefetch")
        self.pending: tuple[tuple, Future] | None = None

    def get(self, *key) -> Prepared:
        """The batch `key` names: prepared ahead when it was asked for with `ahead`."""
        if self.pending is not None and self.pending[0] == key:
            future = self.pending[1]
            self.pending = None
            return future.result()
        return self.prepare(*key)

    def ahead(self, *key) -> None:
        """Start preparing `key`, which `get` will most likely ask for next."""
        if self.pending is not None:
            self.pending[1].cancel()
        self.pending = (key, self.pool.submit(self.prepare, *key))

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.pending = None
