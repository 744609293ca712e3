"""The next batch's host work is prepared on a background thread while the step runs."""

from __future__ import annotations

import threading

from stylora_tui.trainer.prefetch import Prefetcher


def test_the_batch_asked_for_ahead_is_prepared_on_the_prefetch_thread_once():
    calls = []

    def prepare(batch, epoch, index):
        calls.append((batch, epoch, index, threading.current_thread().name))
        return f"{batch}-{epoch}-{index}"

    prefetch = Prefetcher(prepare)
    try:
        assert prefetch.get((1, 2), 1, 0) == "(1, 2)-1-0"  # nothing ahead: prepared on the spot
        prefetch.ahead((3, 4), 1, 1)
        assert prefetch.get((3, 4), 1, 1) == "(3, 4)-1-1"
        prefetch.ahead((5,), 1, 2)
        assert prefetch.get((6,), 2, 0) == "(6,)-2-0", "a different batch than expected (a resume, a new epoch)"
    finally:
        prefetch.close()
    threads = {(batch, where) for batch, _, _, where in calls}
    assert ((1, 2), threading.current_thread().name) in threads
    assert any(batch == (3, 4) and where.startswith("prefetch") for batch, where in threads)
    assert sum(1 for batch, *_ in calls if batch == (3, 4)) == 1
