"""The queue: prepared runs trained one after another by a detached runner, the machine
stopped once, after the last."""

from __future__ import annotations

import json
import os

import pytest

from stylora_tui.launch.queue import fits
from stylora_tui.run.layout import RunDir
from stylora_tui.run.summary import run_status
from tests.conftest import run_cli
from tests.rental.fakes import calls, fake_cli, with_path
from tests.trainer.conftest import events, wait_for


def test_runs_are_pinned_to_free_gpus_in_order():
    assert fits(1, [0, 1, 2, 3], True) == (0,)
    assert fits(2, [1, 3], True) == (1, 3)
    assert fits(2, [3], True) is None, "waits for two free GPUs"
    assert fits(1, [], False) == (), "no GPU: nothing to pin"


@pytest.mark.slow
def test_a_queue_trains_its_runs_in_turn_and_stops_the_machine_once(tmp_path, cache_env):
    from stylora_tui.paths import examples_dir

    log = tmp_path / "runpodctl.jsonl"
    fake_cli(tmp_path / "bin", "runpodctl", log)
    env = with_path(tmp_path / "bin", {**os.environ, **cache_env})
    env.update({"RUNPOD_POD_ID": "pod7", "STYLORA_RENTAL_COUNTDOWN_S": "1"})
    root = tmp_path / "runs"
    names = ["variant-a", "variant-b", "variant-c"]
    for seed, name in enumerate(names):
        prepared = run_cli(
            "train", "--model", "demo", "--dataset", str(examples_dir() / "demo-style"), "--trigger", "stylorademostyle",
            "--family", "animagine", "--preset", "demo", "--run", name, "--runs-dir", str(root), "--no-start",
            "--epochs", "1", "--seed", str(seed), "--on-finish", "stop", "--set", "samples.every_n_epochs=0",
            env=env,
        )  # fmt: skip
        assert prepared.returncode == 0 and f"prepared {name} (not started)" in prepared.stdout, prepared.stderr
    assert [run_status(RunDir(root / n)).status for n in names] == ["new"] * 3
    queued = run_cli("queue", *names, "--runs-dir", str(root), env=env)
    assert queued.returncode == 0, queued.stderr
    assert "one after another" in queued.stdout
    assert "--resume variant-a" in " ".join(queued.stdout.split()), "a command to watch the first run, as printed"
    wait_for(lambda: calls(log), timeout=600)
    assert [run_status(RunDir(root / n)).status for n in names] == ["finished"] * 3
    logs = {n: events(RunDir(root / n)) for n in names}
    started = [next(e["ts"] for e in logs[n] if e["type"] == "run.started") for n in names]
    ended = [next(e["ts"] for e in logs[n] if e["type"] == "run.finished") for n in names]
    assert ended[0] <= started[1] and ended[1] <= started[2], "one after another"
    assert all(any("the queue deals with this machine" in e.get("message", "") for e in logs[n]) for n in names)
    made = calls(log)
    assert [c["argv"] for c in made] == [["stop", "pod", "pod7"]], "the machine is stopped once, after the last run"
    # The action's event is written once the provider's command has returned.
    wait_for(lambda: events(RunDir(root / "variant-c"))[-1]["type"] == "rental.action", timeout=60)
    last = events(RunDir(root / "variant-c"))
    assert last[-1]["type"] == "rental.action" and last[-1]["outcome"] == "done"
    assert not (root / "queue.json").exists()
    assert json.loads(run_cli("runs", "--json", "--runs-dir", str(root), env=env).stdout)


@pytest.mark.slow
def test_a_run_that_hangs_in_a_queue_is_restarted_before_the_next_starts(tmp_path, cache_env):
    """A queued trainer hangs at step 3 (once); its watchdog (on_stall = restart) ends it, the
    queue restarts the run and starts the next only after it has finished."""
    from stylora_tui.paths import examples_dir
    from stylora_tui.trainer.faults import ENV, ONCE_ENV

    env = {
        **os.environ,
        **cache_env,
        ENV: "train.step:3:hang",
        ONCE_ENV: str(tmp_path / "hung-once"),
        "STYLORA_STALL_FLOOR_S": "10",
    }
    root = tmp_path / "runs"
    names = ["hangs", "after"]
    for name in names:
        prepared = run_cli(
            "train", "--model", "demo", "--dataset", str(examples_dir() / "demo-style"), "--trigger", "stylorademostyle",
            "--family", "animagine", "--preset", "demo", "--run", name, "--runs-dir", str(root), "--no-start",
            "--epochs", "1", "--set", "samples.every_n_epochs=0", "--set", "rental.on_stall=restart",
            env=env,
        )  # fmt: skip
        assert prepared.returncode == 0, prepared.stderr
    queued = run_cli("queue", *names, "--runs-dir", str(root), env=env)
    assert queued.returncode == 0, queued.stderr
    wait_for(lambda: not (root / "queue.json").exists(), timeout=600)
    assert [run_status(RunDir(root / n)).status for n in names] == ["finished", "finished"]
    hung = events(RunDir(root / "hangs"))
    assert [e["action"] for e in hung if e["type"] == "run.stalled"] == ["restart"]
    restarted = [e["ts"] for e in hung if e["type"] in ("run.started", "run.resumed")]
    assert len(restarted) == 2, "the run was started again after its stall"
    finished = next(e["ts"] for e in hung if e["type"] == "run.finished")
    started_after = next(e["ts"] for e in events(RunDir(root / "after")) if e["type"] == "run.started")
    assert finished <= started_after, "the next run waited for the restarted one"
