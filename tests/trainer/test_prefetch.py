"""The next batch's host work is prepared on a background thread while the step runs (on a
GPU), and a run prepared that way trains exactly the weights of one prepared in place."""

from __future__ import annotations

import threading

import pytest
import torch

from stylora_tui.trainer.prefetch import Prefetcher
from tests.trainer.conftest import demo_config, in_process


def recording(calls: list):
    def prepare(batch, epoch, index):
        calls.append((batch, threading.current_thread().name))
        return f"{batch}-{epoch}-{index}"

    return prepare


def test_the_batch_asked_for_ahead_is_prepared_on_the_prefetch_thread_once():
    calls = []
    prefetch = Prefetcher(recording(calls), background=True)
    try:
        assert prefetch.get((1, 2), 1, 0) == "(1, 2)-1-0"  # nothing ahead: prepared on the spot
        prefetch.ahead((3, 4), 1, 1)
        assert prefetch.get((3, 4), 1, 1) == "(3, 4)-1-1"
        prefetch.ahead((5,), 1, 2)
        assert prefetch.get((6,), 2, 0) == "(6,)-2-0", "a different batch than expected (a resume, a new epoch)"
    finally:
        prefetch.close()
    assert ((1, 2), threading.current_thread().name) in calls
    assert [where.startswith("prefetch") for batch, where in calls if batch == (3, 4)] == [True]
    assert ((6,), threading.current_thread().name) in calls


def test_in_place_prefetching_prepares_every_batch_on_the_loops_thread():
    calls = []
    prefetch = Prefetcher(recording(calls), background=False)
    prefetch.ahead((3, 4), 1, 1)
    assert prefetch.get((3, 4), 1, 1) == "(3, 4)-1-1"
    prefetch.close()
    assert calls == [((3, 4), threading.current_thread().name)]


@pytest.mark.slow
def test_a_run_prepared_ahead_trains_the_same_weights_as_one_prepared_in_place(tmp_path, dataset, cache_env):
    # Text encoders trained and tags shuffled: captions are tokenised per step, on the
    # prefetch thread; latents come from the cache, read there too.
    config = demo_config(
        dataset,
        captions={"shuffle": True},
        training={"epochs": 1, "max_steps": 5},
        saving={"every_n_epochs": 0},
        samples={"every_n_epochs": 0},
    )
    weights, threads = {}, {}
    for background in (False, True):
        name = "ahead" if background else "in-place"
        session, loop = in_process(tmp_path / name, config, name)
        assert not session.static_text, "captions must be tokenised per step for this test"
        seen = []

        def host_batch(*key, _loop=loop, _seen=seen):
            _seen.append(threading.current_thread().name)
            return _loop.host_batch(*key)

        loop.prefetch = Prefetcher(host_batch, background=background)
        assert loop.run().step == 5
        weights[background] = {k: v.detach().clone() for k, v in session.adapter.state_dict().items()}
        threads[background] = seen
    assert not any(name.startswith("prefetch") for name in threads[False])
    assert sum(name.startswith("prefetch") for name in threads[True]) >= 4
    assert weights[True].keys() == weights[False].keys()
    assert all(torch.equal(weights[True][k], weights[False][k]) for k in weights[True])
