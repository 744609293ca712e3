from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from stylora_tui.errors import RunError
from stylora_tui.run.catalog import create_run, existing_run
from stylora_tui.run.layout import next_run_name, run_path, runs_root
from stylora_tui.run.lock import acquire_lock
from stylora_tui.run.summary import list_runs, run_status
from tests.conftest import run_cli


def test_root_precedence(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert runs_root() == tmp_path / "runs"
    monkeypatch.setenv("STYLORA_RUNS_DIR", str(tmp_path / "env"))
    assert runs_root() == tmp_path / "env"
    assert runs_root(str(tmp_path / "cli")) == tmp_path / "cli"


def test_default_names_count_up(tmp_path):
    assert next_run_name(tmp_path) == "run-01"
    create_run(tmp_path)
    create_run(tmp_path)
    (tmp_path / "run-09").mkdir()
    assert next_run_name(tmp_path) == "run-10"
    assert create_run(tmp_path).name == "run-10"


@pytest.mark.parametrize("name", ["../x", "/etc", "a/b", ".hidden", "..", "", "a b", "x\n", "é"])
def test_bad_names_refused(tmp_path, name):
    with pytest.raises(RunError):
        run_path(tmp_path, name)


def test_symlink_escaping_root_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "runs"
    root.mkdir()
    (root / "sneaky").symlink_to(outside)
    with pytest.raises(RunError):
        run_path(root, "sneaky")


def test_existing_name_refused_with_hint(tmp_path):
    run = create_run(tmp_path, "hokusai")
    run.status_file.write_text(json.dumps({"state": "finished", "step": 10, "total_steps": 10}))
    with pytest.raises(RunError) as info:
        create_run(tmp_path, "hokusai")
    assert "finished" in info.value.hint


def test_status_from_state_and_lock(tmp_path):
    run = create_run(tmp_path, "r")
    assert run_status(run).status == "new"
    run.status_file.write_text(json.dumps({"state": "running", "pid": 99999999, "step": 5, "total_steps": 50}))
    summary = run_status(run)
    assert summary.status == "crashed" and summary.pid is None and summary.step == 5
    fd = acquire_lock(run)
    try:
        assert run_status(run).status == "running"
        with pytest.raises(RunError):
            acquire_lock(run)
    finally:
        os.close(fd)
    assert run_status(run).status == "crashed"
    run.status_file.write_text(json.dumps({"state": "stopped", "step": 5}))
    assert run_status(run).status == "stopped"


def test_lock_held_by_another_process_and_released_on_kill(tmp_path):
    run = create_run(tmp_path, "r")
    run.status_file.write_text(json.dumps({"state": "running", "step": 1}))
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl,os,sys,time; fd=os.open(sys.argv[1], os.O_RDONLY); fcntl.flock(fd, fcntl.LOCK_EX); open(sys.argv[2], 'w').write(str(os.getpid())); print('locked', flush=True); time.sleep(60)",
            str(run.path),
            str(run.lock),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        summary = run_status(run)
        assert summary.status == "running" and summary.pid == holder.pid
    finally:
        holder.kill()
        holder.wait()
    assert run_status(run).status == "crashed"


def test_list_and_missing_run(tmp_path):
    create_run(tmp_path, "run-01")
    (tmp_path / "run-01" / "output" / "run-01-e0001.safetensors").write_bytes(b"x")
    summaries = list_runs(tmp_path)
    assert [s.name for s in summaries] == ["run-01"] and summaries[0].outputs == ("run-01-e0001.safetensors",)
    with pytest.raises(RunError) as info:
        existing_run(tmp_path, "run-1")
    assert "run-01" in info.value.hint


def test_deleting_the_lock_file_of_a_live_run_does_not_let_a_second_trainer_in(tmp_path):
    run = create_run(tmp_path, "r")
    fd = acquire_lock(run)
    try:
        run.lock.unlink()
        assert run_status(run).status == "running"
        with pytest.raises(RunError) as info:
            acquire_lock(run)
        assert "already has a live trainer" in info.value.message
    finally:
        os.close(fd)
    os.close(acquire_lock(run))


def test_a_crashed_run_shows_the_step_it_resumes_at(tmp_path):
    run = create_run(tmp_path, "r")
    run.status_file.write_text(json.dumps({"state": "running", "step": 0, "total_steps": 64}))
    for step, complete in ((16, True), (32, True), (48, False)):
        folder = run.checkpoints / f"step-{step:06d}"
        folder.mkdir()
        if complete:
            (folder / "COMPLETE").write_text("ok\n")
    summary = run_status(run)
    assert summary.status == "crashed" and summary.checkpoint_step == 32
    listed = run_cli("runs", "--runs-dir", str(tmp_path))
    assert "resumes at 32" in listed.stdout
    assert json.loads(run_cli("runs", "--runs-dir", str(tmp_path), "--json").stdout)[0]["checkpoint_step"] == 32


def test_a_damaged_frozen_config_is_an_error_not_a_traceback(tmp_path):
    from stylora_tui.errors import ConfigError
    from stylora_tui.launch.prepare import frozen_config

    run = create_run(tmp_path, "r")
    run.config.write_bytes("[training]\nepochs = 3\n".encode("utf-16"))
    with pytest.raises(ConfigError) as info:
        frozen_config(run)
    assert "not UTF-8" in info.value.message
