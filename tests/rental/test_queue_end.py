"""The machine at the end of a queue: dealt with as its runs ended, and kept when the user
said so, whichever of its runs they said it to, and through a resume."""

from __future__ import annotations

import json
import os
import threading

import pytest

from stylora_tui.launch import queue
from stylora_tui.rental import lifecycle
from stylora_tui.run import control
from stylora_tui.run.catalog import create_run
from tests.conftest import run_cli
from tests.rental.fakes import calls, fake_cli, with_path
from tests.trainer.conftest import events


@pytest.fixture
def queued(tmp_path, monkeypatch):
    """Three runs a queue trained, each set to stop the RunPod pod at the end, and the fake
    runpodctl that records the call."""
    runs = [create_run(tmp_path / "runs", name) for name in ("variant-a", "variant-b", "variant-c")]
    for run in runs:
        run.config.write_text('[rental]\non_finish = "stop"\non_failure = "stop"\n')
        run.status_file.write_text(json.dumps({"state": "finished", "step": 10, "total_steps": 10}))
    log = tmp_path / "runpodctl.jsonl"
    fake_cli(tmp_path / "bin", "runpodctl", log)
    monkeypatch.setenv("PATH", with_path(tmp_path / "bin")["PATH"])
    monkeypatch.setenv("RUNPOD_POD_ID", "pod7")
    monkeypatch.delenv("CONTAINER_ID", raising=False)
    monkeypatch.setattr(lifecycle, "COUNTDOWN_S", 3)
    return runs, log


@pytest.mark.parametrize("when", ["nobody", "before the end", "during the countdown"])
def test_a_keep_asked_of_any_run_of_a_queue_keeps_the_machine(queued, when):
    runs, log = queued
    watched = runs[0]  # the run the user was watching: not the queue's last
    if when == "before the end":
        control.request(watched, control.KEEP_MACHINE)
    elif when == "during the countdown":
        threading.Timer(0.5, lambda: control.request(watched, control.KEEP_MACHINE)).start()
    queue.finish(runs)
    outcome = events(runs[-1])[-1]
    assert outcome["type"] == "rental.action"
    if when == "nobody":
        assert [c["argv"] for c in calls(log)] == [["stop", "pod", "pod7"]]
        assert outcome["outcome"] == "done"
    else:
        assert calls(log) == [] and outcome["outcome"] == "cancelled"
        assert all(control.KEEP_MACHINE not in control.pending(run) for run in runs), "the request is honoured"


def test_a_resume_starts_clean_but_keeps_a_request_to_keep_the_machine(tmp_path):
    run = create_run(tmp_path / "runs", "run-01")
    for intent in control.INTENTS:
        control.request(run, intent)
    control.clear(run)
    assert control.pending(run) == {control.KEEP_MACHINE}


def test_stop_keep_machine_says_when_the_queue_ends_for_a_queued_run(queued):
    runs, _ = queued
    root = runs[0].path.parent
    create_run(root, "alone")  # a run of the same root, not in the queue
    # A queue running in this root (its runner's pid: one that is alive).
    queue.queue_file(root).write_text(json.dumps({"runs": [r.name for r in runs], "pid": os.getpid(), "gpus": 0}))
    said = run_cli("stop", "variant-a", "--keep-machine", "--runs-dir", str(root))
    assert said.returncode == 0, said.stderr
    assert "kept when its queue ends (after variant-c)" in said.stdout
    assert control.KEEP_MACHINE in control.pending(runs[0])
    said = run_cli("stop", "alone", "--keep-machine", "--runs-dir", str(root))
    assert said.returncode == 0 and "kept when the run ends" in said.stdout


@pytest.mark.parametrize(
    "statuses, action",
    [
        (["finished", "finished", "finished"], "stop"),
        (["finished", "stopped", "finished"], "stop"),  # a variant the user gave up on
        (["finished", "failed", "finished"], "terminate"),
        (["crashed", "finished", "finished"], "terminate"),
        (["finished", "finished", "new"], "terminate"),  # the last never started (its dataset changed)
        (["finished", "finished", "stopped"], "nothing"),  # the user stopped the end: they are here
    ],
)
def test_how_the_queue_ended_decides_what_happens_to_the_machine(statuses, action):
    ended, chosen = queue.queue_end(statuses, on_finish="stop", on_failure="terminate")
    assert chosen == action, ended


def test_a_run_stopped_on_the_way_still_stops_the_machine_after_the_last(queued):
    runs, log = queued
    runs[-1].config.write_text('[rental]\non_finish = "stop"\n')  # on_failure: "nothing", as by default
    runs[1].status_file.write_text(json.dumps({"state": "stopped", "step": 4, "total_steps": 10}))
    queue.finish(runs)
    assert [c["argv"] for c in calls(log)] == [["stop", "pod", "pod7"]]
    said = [e["message"] for e in events(runs[-1]) if e["type"] == "log"]
    assert "the queue has ended (1 run(s) stopped on the way, the others finished)" in said


def test_a_queued_run_its_watchdog_restarts_is_restarted_by_the_queue_before_the_next(queued, monkeypatch):
    """The watchdog leaves a queued run's restart to the queue: the queue sees the trainer's
    process end, restarts the run on the same GPUs, and starts the next run only after."""
    import subprocess

    from stylora_tui.launch.launcher import Launched
    from stylora_tui.run import events as ev
    from stylora_tui.run.event_log import EventWriter

    runs, log = queued
    first, second, third = runs
    launched: list[str] = []

    def launch(run, gpus):
        writer = EventWriter(run.events)
        if run == first and first.name not in launched:
            writer.write(ev.RunStarted(run=run.name))
            writer.write(ev.RunStalled(step=3, seconds=3.0, action="restart"))
        else:
            writer.write(ev.RunResumed(run=run.name) if run.name in launched else ev.RunStarted(run=run.name))
            writer.write(ev.RunFinished(output=f"output/{run.name}.safetensors", step=10))
        writer.close()
        launched.append(run.name)
        return Launched(pid=0, log="", process=subprocess.Popen(["true"]))

    monkeypatch.setattr(queue, "launch", launch)
    monkeypatch.setattr(queue, "POLL_S", 0.05)
    root = first.path.parent
    queue.queue_file(root).write_text(json.dumps({"runs": [r.name for r in runs], "pid": os.getpid(), "gpus": 0}))
    assert queue.run_queue(root) == 0
    assert launched == [first.name, first.name, second.name, third.name]
    assert [c["argv"] for c in calls(log)] == [["stop", "pod", "pod7"]], "the machine once, after the last"
    assert not queue.restart_asked(first)


def test_the_machine_is_at_stake_for_a_queued_run_as_its_queue_ends(queued):
    runs, _ = queued
    runs[0].config.write_text("schema_version = 1\n")  # its own config stops nothing
    assert not queue.machine_at_stake(runs[0]) and queue.machine_at_stake(runs[-1])
    root = runs[0].path.parent
    queue.queue_file(root).write_text(json.dumps({"runs": [r.name for r in runs], "pid": os.getpid(), "gpus": 0}))
    assert queue.machine_at_stake(runs[0]), "the queue's last run stops the machine after it"


@pytest.mark.parametrize("in_a_queue", [False, True])
def test_the_headless_view_waits_for_a_countdown_only_where_one_follows_the_run(queued, in_a_queue):
    from io import StringIO

    from rich.console import Console

    from stylora_tui.run.state import RunState
    from stylora_tui.run.status import FINISHED
    from stylora_tui.views.rental import await_rental

    runs, _ = queued
    run = runs[0]
    if in_a_queue:  # the queue deals with the machine after its last run, once this trainer is gone
        queue.queue_file(run.path.parent).write_text(json.dumps({"runs": [r.name for r in runs], "pid": os.getpid()}))

    class Ended:  # what a Watch has seen once the run has finished
        state, said, last_events = RunState(name=run.name, phase=FINISHED), [], []

        def poll(self):
            pass

    buffer = StringIO()
    await_rental(run, Ended(), Console(file=buffer, width=200), poll_s=0.01)
    waited = "waiting for the mirror and the machine's countdown" in buffer.getvalue()
    assert waited is not in_a_queue
