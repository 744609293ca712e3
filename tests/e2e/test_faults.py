"""The kill campaign's scenarios, reached deterministically: kill -9 inside checkpoint writes
and the last samples, a full disk, a damaged checkpoint, a stop that outlives its trainer."""

from __future__ import annotations

import json
import os
import time

import pytest
import torch
from safetensors.torch import load_file

from stylora_tui.run import control
from stylora_tui.run.summary import run_status
from stylora_tui.trainer.faults import ENV
from tests.conftest import run_cli
from tests.trainer.conftest import demo_config, events, prepare, trainer, wait_for

pytestmark = pytest.mark.slow

CHECKPOINT_FILES = {"network.safetensors", "optimizer.pt", "scheduler.pt", "rng.pt", "state.json", "COMPLETE"}
# A checkpoint after every step (timed), only the newest kept: every kill lands near one.
EVERY_STEP = dict(saving={"checkpoint_every_minutes": 1e-9, "keep_checkpoints": 1, "every_n_epochs": 1, "precision": "fp32"})


def complete(run) -> list:
    return sorted(p for p in run.checkpoints.iterdir() if (p / "COMPLETE").is_file())


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, shared_cache):
    from stylora_tui.paths import examples_dir

    tmp = tmp_path_factory.mktemp("straight")
    run = prepare(tmp, demo_config(examples_dir() / "demo-style", **EVERY_STEP), "straight")
    assert trainer(run, {"XDG_CACHE_HOME": str(shared_cache)}).returncode == 0
    return load_file(str(run.output / "straight.safetensors"))


@pytest.mark.parametrize("where", ["checkpoint.complete:5", "checkpoint.renamed:8"])
def test_kill_inside_a_checkpoint_write_never_loses_the_complete_state(tmp_path, dataset, cache_env, uninterrupted, where):
    run = prepare(tmp_path, demo_config(dataset, **EVERY_STEP), "straight")
    killed = trainer(run, {**cache_env, ENV: f"{where}:kill"})
    assert killed.returncode == -9
    newest = complete(run)
    assert newest, "a complete checkpoint survives every kill"
    assert {p.name for p in newest[-1].iterdir()} >= CHECKPOINT_FILES
    saved = [e["step"] for e in events(run) if e["type"] == "checkpoint.saved"]
    assert len(saved) == len(set(saved)), "no step is saved twice"

    resumed = trainer(run, cache_env)
    assert resumed.returncode == 0, resumed.stdout[-2000:]
    final = load_file(str(run.output / "straight.safetensors"))
    assert all(torch.equal(final[k], uninterrupted[k]) for k in final), "the resumed run ends as the uninterrupted one"


def test_same_step_is_never_saved_twice(tmp_path, dataset, cache_env):
    run = prepare(tmp_path, demo_config(dataset, **EVERY_STEP), "r")
    assert trainer(run, cache_env).returncode == 0
    saved = [e["step"] for e in events(run) if e["type"] == "checkpoint.saved"]
    # Step 8 ends epoch 1: its timed checkpoint stands for the epoch-end one.
    assert 8 in saved and len(saved) == len(set(saved))


def test_full_disk_at_a_checkpoint_fails_the_run_saying_why(tmp_path, dataset, cache_env):
    run = prepare(tmp_path, demo_config(dataset, saving={"checkpoint_every_minutes": 0}, training={"epochs": 3}), "full")
    result = trainer(run, {**cache_env, ENV: "checkpoint.written:2:enospc"})
    assert result.returncode == 1
    kinds = [e["type"] for e in events(run)]
    assert "checkpoint.failed" in kinds and kinds[-1] == "run.failed"
    failed = next(e for e in events(run) if e["type"] == "run.failed")
    assert "disk is full" in failed["reason"] and "--resume full" in failed["hint"] and "step 8" in failed["hint"]
    summary = run_status(run)
    assert summary.status == "failed" and summary.checkpoint_step == 8 and "disk is full" in summary.reason
    listed = json.loads(run_cli("runs", "--json", "--runs-dir", str(run.path.parent)).stdout)[0]
    assert listed["status"] == "failed" and listed["checkpoint_step"] == 8


def test_full_disk_can_be_trained_through_when_the_user_chose_so(tmp_path, dataset, cache_env):
    config = demo_config(
        dataset, saving={"checkpoint_every_minutes": 0, "continue_without_checkpoints": True}, training={"epochs": 3}
    )
    run = prepare(tmp_path, config, "onward")
    assert trainer(run, {**cache_env, ENV: "checkpoint.written:1:enospc"}).returncode == 0
    kinds = [e["type"] for e in events(run)]
    assert "checkpoint.failed" in kinds and kinds[-1] == "run.finished"


def test_a_stop_without_a_checkpoint_is_not_a_success(tmp_path, dataset, cache_env):
    run = prepare(tmp_path, demo_config(dataset, saving={"checkpoint_every_minutes": 0}, training={"epochs": 30}), "stopfull")
    process = trainer(run, {**cache_env, ENV: "checkpoint.written:2:enospc"}, wait=False)
    wait_for(lambda: any(e["type"] == "checkpoint.saved" for e in events(run)), timeout=180)
    control.request(run, control.STOP)
    assert process.wait(timeout=120) == 1
    assert events(run)[-1]["type"] == "run.failed" and run_status(run).status == "failed"
    assert run_status(run).checkpoint_step == 8


def test_a_stop_before_the_first_step_is_consumed_and_resume_trains(tmp_path, dataset, cache_env):
    run = prepare(tmp_path, demo_config(dataset), "early")
    control.request(run, control.STOP)
    stopped = trainer(run, cache_env)
    assert stopped.returncode == 0 and run_status(run).status == "stopped"
    assert control.STOP not in control.pending(run), "the honoured stop is consumed"
    resumed = run_cli("--resume", "early", "--headless", "--runs-dir", str(run.path.parent), env=cache_env, timeout=600)
    assert resumed.returncode == 0 and run_status(run).status == "finished", resumed.stdout + resumed.stderr


def test_a_stop_left_by_a_killed_trainer_does_not_stop_the_resume(tmp_path, dataset, cache_env):
    run = prepare(tmp_path, demo_config(dataset), "leftover")
    run.status_file.write_text(json.dumps({"state": "running", "step": 0}))
    control.request(run, control.STOP)  # `stylora-tui stop`, then kill -9 before the next step
    assert run_status(run).status == "crashed"
    resumed = run_cli("--resume", "leftover", "--headless", "--runs-dir", str(run.path.parent), env=cache_env, timeout=600)
    assert resumed.returncode == 0 and run_status(run).status == "finished", resumed.stdout + resumed.stderr


def test_kill_during_the_last_samples_is_completed_by_the_resume(tmp_path, dataset, cache_env, webhook):
    """The final adapter exists, the final previews do not: the run is not finished (no event,
    no notification). The resume trains nothing, makes the previews, finishes and notifies."""
    # 4 prompts rendered as one batch, 2 steps per saved epoch: the 3rd denoising step is in the final samples.
    config = demo_config(dataset, samples={"every_n_epochs": 1, "steps": 2}, notify={"url": webhook.url()})
    run = prepare(tmp_path, config, "lastsamples")
    assert trainer(run, {**cache_env, ENV: "sample.step:3:kill"}).returncode == -9
    adapter = run.output / "lastsamples.safetensors"
    assert adapter.is_file() and run_status(run).status == "crashed" and not webhook.received
    before = adapter.read_bytes()
    steps_before = sum(1 for e in events(run) if e["type"] == "train.step")
    resumed = run_cli("--resume", "lastsamples", "--headless", "--runs-dir", str(run.path.parent), env=cache_env, timeout=600)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    assert run_status(run).status == "finished" and events(run)[-1]["type"] != "run.failed"
    assert sum(1 for e in events(run) if e["type"] == "train.step") == steps_before, "nothing was trained again"
    assert [e["type"] for e in events(run)].count("run.finished") == 1
    assert len(list((run.samples / "e0002").glob("*.png"))) == 4
    assert load_file(str(adapter)).keys() == load_file_bytes(before).keys()
    assert all(torch.equal(load_file(str(adapter))[k], load_file_bytes(before)[k]) for k in load_file_bytes(before))
    assert len(webhook.received) == 1 and b"lastsamples finished" in webhook.received[0]["body"]
    assert b"suggested: lastsamples-e0001.safetensors at strength" in webhook.received[0]["body"] or (
        b"suggested: lastsamples.safetensors at strength" in webhook.received[0]["body"]
    )


def load_file_bytes(data: bytes) -> dict:
    from safetensors.torch import load

    return load(data)


def test_kill_while_the_final_adapter_is_written_leaves_no_temporary_file(tmp_path, dataset, cache_env, uninterrupted):
    run = prepare(tmp_path, demo_config(dataset, **EVERY_STEP), "straight")
    # Epoch 1's adapter is the first write, the final adapter the second.
    assert trainer(run, {**cache_env, ENV: "output.written:2:kill"}).returncode == -9
    assert list(run.output.glob(".*.tmp")), "the kill left the final adapter's temporary file"
    resumed = trainer(run, cache_env)
    assert resumed.returncode == 0, resumed.stdout[-2000:]
    assert sorted(p.name for p in run.output.iterdir()) == ["straight-e0001.safetensors", "straight.safetensors"]
    final = load_file(str(run.output / "straight.safetensors"))
    assert all(torch.equal(final[k], uninterrupted[k]) for k in final)


def test_a_damaged_newest_checkpoint_falls_back_to_the_previous_one(tmp_path, dataset, cache_env):
    run = prepare(
        tmp_path,
        demo_config(dataset, saving={"checkpoint_every_minutes": 1e-9, "keep_checkpoints": 3}, training={"epochs": 2}),
        "damaged",
    )
    assert trainer(run, {**cache_env, ENV: "checkpoint.renamed:6:kill"}).returncode == -9
    checkpoints = complete(run)
    assert [p.name for p in checkpoints[-3:]] == ["step-000004", "step-000005", "step-000006"]
    weights = checkpoints[-1] / "network.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    resumed = trainer(run, cache_env)
    assert resumed.returncode == 0, resumed.stdout[-2000:]
    logs = [e["message"] for e in events(run) if e["type"] == "log"]
    assert any("step-000006 is damaged" in m and "resuming from step-000005" in m for m in logs)
    assert next(e for e in reversed(events(run)) if e["type"] == "run.resumed")["step"] == 5


def test_a_headless_resume_whose_trainer_dies_at_start_says_so_at_once(tmp_path, dataset, cache_env):
    import time

    run = prepare(tmp_path, demo_config(dataset), "diesatstart")
    run.status_file.write_text(json.dumps({"state": "running", "step": 0}))
    began = time.monotonic()
    resumed = run_cli(
        "--resume",
        "diesatstart",
        "--headless",
        "--runs-dir",
        str(run.path.parent),
        env={**cache_env, ENV: "trainer.start:1:kill"},
        timeout=120,
    )
    took = time.monotonic() - began
    assert resumed.returncode == 1
    assert "failed: the trainer exited during start-up (exit code -9)" in resumed.stdout, resumed.stdout
    assert took < 30, f"took {took:.0f} s: the start grace is 60 s"


@pytest.mark.parametrize("kind", ["folder", "rsync"])
def test_a_run_lost_with_its_machine_resumes_from_its_mirror(tmp_path, dataset, cache_env, uninterrupted, kind):
    """The machine is reclaimed while the final adapter is written: its run folder is gone.
    On another machine `--resume --from` restores the mirror and the run ends as the
    uninterrupted one; it then stops that machine (a fake runpodctl), once, after the
    mirror holds the final adapter."""
    import shutil

    from tests.rental.fakes import CHECK_ENV, calls, fake_cli, fake_ssh, with_path

    if kind == "rsync" and shutil.which("rsync") is None:
        pytest.skip("rsync is not installed (make install adds it)")
    (tmp_path / "mirror").mkdir()
    to = str(tmp_path / "mirror") if kind == "folder" else f"me@old-box:{tmp_path / 'mirror'}"
    env = {**cache_env, "STYLORA_RSYNC_SSH": fake_ssh(tmp_path / "bin")}
    config = demo_config(dataset, mirror={"to": to}, rental={"on_finish": "stop"}, **EVERY_STEP)
    run = prepare(tmp_path / "old", config, "straight")
    assert trainer(run, {**env, ENV: "output.written:2:kill"}).returncode == -9
    mirrored = tmp_path / "mirror" / "straight"
    assert any((p / "COMPLETE").is_file() for p in (mirrored / "checkpoints").iterdir())
    shutil.rmtree(run.path)

    log = tmp_path / "runpodctl.jsonl"
    fake_cli(tmp_path / "bin", "runpodctl", log)
    env = with_path(tmp_path / "bin", {**os.environ, **env})
    env.update(
        {
            "RUNPOD_POD_ID": "pod42",
            "STYLORA_RENTAL_COUNTDOWN_S": "1",
            CHECK_ENV: str(mirrored / "output" / "straight.safetensors"),
        }
    )
    new_root = tmp_path / "new"
    resumed = run_cli("--resume", "straight", "--from", to, "--headless", "--runs-dir", str(new_root), env=env, timeout=600)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    assert f"restored straight from {to}" in resumed.stdout
    final = load_file(str(new_root / "straight" / "output" / "straight.safetensors"))
    assert all(torch.equal(final[k], uninterrupted[k]) for k in final), "the restored run ends as the uninterrupted one"
    wait_for(lambda: calls(log), timeout=60)
    time.sleep(1)
    made = calls(log)
    assert [c["argv"] for c in made] == [["stop", "pod", "pod42"]], "stopped exactly once"
    assert all(made[0]["checked"].values()), "after the mirror held the final adapter"


def stalling(tmp_path, dataset, cache_env, name: str, on_stall: str):
    """A run whose trainer hangs for good after step 3 (once), with a watchdog floor of 10 s (3 s
    found a first step on a busy 2-core machine a stall of its own: a queue test saw it)."""
    from stylora_tui.trainer.faults import ONCE_ENV

    run = prepare(tmp_path, demo_config(dataset, rental={"on_stall": on_stall}, **EVERY_STEP), name)
    env = {**cache_env, ENV: "train.step:3:hang", ONCE_ENV: str(tmp_path / "hung-once"), "STYLORA_STALL_FLOOR_S": "10"}
    return run, env


def test_a_hung_trainer_is_reported_stalled_with_its_stacks_and_restarted_once(tmp_path, dataset, cache_env, uninterrupted):
    run, env = stalling(tmp_path, dataset, cache_env, "straight", "restart")
    hung = trainer(run, env)
    assert hung.returncode == 1
    assert "most recent call first" in hung.stderr and "faults.py" in hung.stderr, "every thread's stack is dumped"
    stalled = [e for e in events(run) if e["type"] == "run.stalled"]
    assert len(stalled) == 1 and stalled[0]["action"] == "restart" and stalled[0]["step"] == 3
    wait_for(lambda: run_status(run).status == "finished", timeout=300)
    final = load_file(str(run.output / "straight.safetensors"))
    assert all(torch.equal(final[k], uninterrupted[k]) for k in final), "the restarted trainer ends as the uninterrupted one"
    assert [e["type"] for e in events(run)].count("run.resumed") == 1


def test_a_hung_trainer_with_on_stall_fail_fails_the_run_saying_why(tmp_path, dataset, cache_env):
    run, env = stalling(tmp_path, dataset, cache_env, "stuck", "fail")
    hung = trainer(run, env)
    assert hung.returncode == 1
    assert run_status(run).status == "failed"
    last = events(run)[-1]
    assert last["type"] == "run.failed" and "stalled: no progress for" in last["reason"] and "trainer.log" in last["hint"]


def test_a_hung_trainer_with_on_stall_nothing_shows_stalled_and_keeps_waiting(tmp_path, dataset, cache_env):
    import signal

    run, env = stalling(tmp_path, dataset, cache_env, "waiting", "nothing")
    process = trainer(run, env, wait=False)
    try:
        wait_for(lambda: run_status(run).status == "stalled", timeout=180)
        listed = json.loads(run_cli("runs", "--json", "--runs-dir", str(run.path.parent)).stdout)
        assert listed[0]["status"] == "stalled"
        assert process.poll() is None, "nothing: the trainer is left to recover"
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_a_run_lost_with_its_machine_resumes_from_a_hub_mirror(tmp_path, dataset, cache_env, uninterrupted):
    import shutil

    from tests.fakehub import FakeHub

    hub = FakeHub()
    try:
        env = {
            **cache_env,
            "HF_ENDPOINT": hub.url,
            "HF_TOKEN": "hf_test_token",
            "HF_HOME": str(tmp_path / "hf"),
            "HF_HUB_DISABLE_XET": "1",
            "HF_HUB_DISABLE_TELEMETRY": "1",
        }
        config = demo_config(dataset, mirror={"to": "hf://me/stylora-runs"}, **EVERY_STEP)
        run = prepare(tmp_path / "old", config, "straight")
        assert trainer(run, {**env, ENV: "output.written:2:kill"}).returncode == -9
        assert any(name.endswith("/COMPLETE") for name in hub.repos["me/stylora-runs"])
        shutil.rmtree(run.path)
        new_root = tmp_path / "new"
        resumed = run_cli(
            "--resume",
            "straight",
            "--from",
            "hf://me/stylora-runs",
            "--headless",
            "--runs-dir",
            str(new_root),
            env=env,
            timeout=600,
        )
        assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
        final = load_file(str(new_root / "straight" / "output" / "straight.safetensors"))
        assert all(torch.equal(final[k], uninterrupted[k]) for k in final)
        wait_for(lambda: "straight/output/straight.safetensors" in hub.repos["me/stylora-runs"], timeout=60)
    finally:
        hub.close()
