"""Runs that survive: real processes, signals and locks, with the demo model."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from stylora_tui.run.layout import RunDir
from tests.conftest import as_in_a_terminal, run_cli
from tests.trainer.conftest import events, wait_for

pytestmark = pytest.mark.slow

DEMO = ["--model", "demo", "--preset", "demo", "--repeats", "1", "--save-every", "1"]


def runs_json(root, env) -> list[dict]:
    proc = run_cli("runs", "--json", "--runs-dir", str(root), env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_terminal_hangup_keeps_training_then_kill9_crash_then_headless_resume(tmp_path, cache_env):
    root = tmp_path / "runs"
    env = {**os.environ, **cache_env}
    # The foreground `train` stands in for a terminal session that is then hung up.
    terminal = subprocess.Popen(
        [sys.executable, "-m", "stylora_tui", "train", *DEMO, "--epochs", "8", "--runs-dir", str(root), "--run", "rental"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=as_in_a_terminal(signal.SIGHUP),
    )
    run = RunDir(root / "rental")
    wait_for(lambda: any(e["type"] == "train.step" for e in events(run)), timeout=180)
    os.killpg(terminal.pid, signal.SIGHUP)
    terminal.wait(timeout=30)
    rows = runs_json(root, cache_env)
    assert rows[0]["status"] == "running" and isinstance(rows[0]["pid"], int)
    pid = rows[0]["pid"]
    step_then = rows[0]["step"]
    wait_for(lambda: any(e["type"] == "checkpoint.saved" for e in events(run)), timeout=180)
    wait_for(lambda: runs_json(root, cache_env)[0]["step"] > step_then, timeout=60)

    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: runs_json(root, cache_env)[0]["status"] == "crashed", timeout=30)

    resumed = run_cli("--resume", "rental", "--headless", "--runs-dir", str(root), env=cache_env, timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "finished" in resumed.stdout
    final = runs_json(root, cache_env)[0]
    assert final["status"] == "finished" and "rental.safetensors" in final["outputs"]
    assert [e["type"] for e in events(run)].count("run.resumed") == 1


def test_detach_returns_at_once_and_stop_saves(tmp_path, cache_env):
    root = tmp_path / "runs"
    proc = run_cli("train", *DEMO, "--epochs", "30", "--runs-dir", str(root), "--detach", env=cache_env)
    assert proc.returncode == 0, proc.stderr
    assert "run-01" in proc.stdout and "stylora-tui --resume run-01" in proc.stdout
    run = RunDir(root / "run-01")
    wait_for(lambda: any(e["type"] == "train.step" for e in events(run)), timeout=180)
    again = run_cli("train", *DEMO, "--runs-dir", str(root), "--run", "run-01", env=cache_env)
    assert again.returncode == 1 and "training now" in again.stderr
    stop = run_cli("stop", "run-01", "--runs-dir", str(root), "--wait", env=cache_env, timeout=300)
    assert stop.returncode == 0, stop.stderr
    assert runs_json(root, cache_env)[0]["status"] == "stopped"
    assert any(e["type"] == "checkpoint.saved" for e in events(run))
    not_running = run_cli("stop", "run-01", "--runs-dir", str(root), env=cache_env)
    assert not_running.returncode == 1 and "not running" in not_running.stderr


def test_resume_refuses_a_changed_dataset(tmp_path, dataset, cache_env):
    root = tmp_path / "runs"
    proc = run_cli(
        "train", *DEMO, "--dataset", str(dataset), "--epochs", "30", "--runs-dir", str(root), "--detach", env=cache_env
    )
    assert proc.returncode == 0, proc.stderr
    stop_after_first_step(root / "run-01", root, cache_env)
    (dataset / "01-sun.txt").write_text("stylorademostyle, something else")
    resumed = run_cli("--resume", "run-01", "--headless", "--runs-dir", str(root), env=cache_env)
    assert resumed.returncode == 1 and "cannot resume" in resumed.stderr and "01-sun.jpg" in resumed.stderr


def stop_after_first_step(path, root, env):
    run = RunDir(path)
    wait_for(lambda: any(e["type"] == "train.step" for e in events(run)), timeout=180)
    assert run_cli("stop", run.name, "--runs-dir", str(root), "--wait", env=env, timeout=300).returncode == 0


@pytest.mark.parametrize("name", ["../escape", "/abs", "a/b"])
def test_run_names_escaping_the_root_are_refused(tmp_path, name):
    proc = run_cli("train", *DEMO, "--runs-dir", str(tmp_path / "runs"), "--run", name)
    assert proc.returncode == 1 and "not allowed" in proc.stderr
    assert not (tmp_path / "escape").exists()


def test_sigterm_means_save_and_stop(tmp_path, cache_env):
    root = tmp_path / "runs"
    assert run_cli("train", *DEMO, "--epochs", "30", "--runs-dir", str(root), "--detach", env=cache_env).returncode == 0
    run = RunDir(root / "run-01")
    wait_for(lambda: any(e["type"] == "train.step" for e in events(run)), timeout=180)
    os.kill(runs_json(root, cache_env)[0]["pid"], signal.SIGTERM)
    wait_for(lambda: runs_json(root, cache_env)[0]["status"] == "stopped", timeout=120)
    stopped = next(e for e in events(run) if e["type"] == "run.stopped")
    assert stopped["reason"] == "SIGTERM received" and stopped["checkpoint"]


def test_demo_model_command_writes_a_loadable_pipeline(tmp_path):
    proc = run_cli("demo-model", str(tmp_path / "demo"))
    assert proc.returncode == 0, proc.stderr
    from diffusers import StableDiffusionXLPipeline

    pipe = StableDiffusionXLPipeline.from_pretrained(tmp_path / "demo", local_files_only=True)
    assert pipe.text_encoder.config.hidden_size != pipe.text_encoder_2.config.hidden_size
    assert len(pipe.tokenizer) == 49408
    again = run_cli("demo-model", str(tmp_path / "demo"))
    assert again.returncode == 1 and "not empty" in again.stderr


def test_ctrl_c_on_foreground_train_stops_cleanly(tmp_path, cache_env):
    root = tmp_path / "runs"
    follower = subprocess.Popen(
        [sys.executable, "-m", "stylora_tui", "train", *DEMO, "--epochs", "30", "--runs-dir", str(root)],
        env={**os.environ, **cache_env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=as_in_a_terminal(signal.SIGINT),
    )
    run = RunDir(root / "run-01")
    wait_for(lambda: any(e["type"] == "train.step" for e in events(run)), timeout=180)
    follower.send_signal(signal.SIGINT)
    output, _ = follower.communicate(timeout=180)
    assert follower.returncode == 0, output
    assert "dataset warnings: few-images" in output
    assert "stop requested" in output and "stopped at step" in output and "--resume run-01" in output
    assert runs_json(root, cache_env)[0]["status"] == "stopped"


def test_the_headless_demo_runs_the_whole_path(tmp_path, cache_env):
    # What `make demo` runs without a terminal: check, trigger, plan, launch, follow to the end.
    result = run_cli("--demo", "--headless", "--runs-dir", str(tmp_path / "runs"), env=cache_env, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "finished run-01 at step 32" in result.stdout
    assert (tmp_path / "runs" / "run-01" / "output" / "run-01.safetensors").is_file()
