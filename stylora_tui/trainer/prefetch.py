"""The next batch's host work done while the current step runs.

Reading cached latents, stacking them into pinned memory, shuffling and tokenising the
captions: all a pure function of (batch, epoch, index), so doing it one batch ahead on a
background thread changes no number (noise and timesteps stay on the loop's thread, drawn
in order from the run's generator). A batch asked for that was not prepared ahead (a
resume, a new epoch) is prepared on the spot.

Only a GPU has something to overlap: the host queues the step's kernels and would then wait
for them while it could prepare the next batch, as DataLoader's pin-memory thread does. On
a CPU the same cores run the step, and a second thread only competes with its OpenMP team
(on a 2-core machine that made a training run crawl), so there the work is done in place.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

Prepared = TypeVar("Prepared")


class Prefetcher(Generic[Prepared]):
    def __init__(self, prepare: Callable[..., Prepared], background: bool) -> None:
        self.prepare = prepare
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="prefetch") if background else None
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
        if self.pool is None:
            return
        if self.pending is not None:
            self.pending[1].cancel()
        self.pending = (key, self.pool.submit(self.prepare, *key))

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
        self.pending = None
