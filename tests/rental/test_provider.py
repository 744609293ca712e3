"""Finding the provider and stopping the machine, with fake CLIs on PATH; and the end of a
run (mirror, countdown, action) driven without training."""

from __future__ import annotations

import threading
import time

import pytest

from stylora_tui.config.build import build_config
from stylora_tui.rental.provider import detect, price_per_hour, run_action, shown
from stylora_tui.run import control
from stylora_tui.run import events as ev
from stylora_tui.run.catalog import create_run
from tests.rental.fakes import CHECK_ENV, calls, fake_cli, with_path


def test_providers_are_found_from_their_environment():
    pod = detect({"RUNPOD_POD_ID": "abc123"})
    assert pod.name == "RunPod pod abc123"
    assert pod.command_for("stop") == ["runpodctl", "stop", "pod", "abc123"]
    assert pod.command_for("terminate") == ["runpodctl", "remove", "pod", "abc123"]
    vast = detect({"CONTAINER_ID": "4242", "CONTAINER_API_KEY": "secret"})
    assert vast.command_for("stop") == ["vastai", "stop", "instance", "4242", "--api-key", "secret"]
    assert vast.command_for("terminate")[:4] == ["vastai", "destroy", "instance", "4242"]
    assert "secret" not in shown(vast.command_for("stop"))
    custom = detect({"RUNPOD_POD_ID": "abc"}, command="sudo shutdown -h now")
    assert custom.command_for("stop") == ["sh", "-c", "sudo shutdown -h now"] and shown(custom.command_for("stop")) == (
        "sudo shutdown -h now"
    )
    assert detect({}) is None


def test_actions_run_the_cli_and_say_what_it_said(tmp_path, monkeypatch):
    log = tmp_path / "calls.jsonl"
    fake_cli(tmp_path / "bin", "runpodctl", log, says='pod "abc" stopped')
    monkeypatch.setenv("PATH", with_path(tmp_path / "bin")["PATH"])
    ok, output = run_action(detect({"RUNPOD_POD_ID": "abc"}), "stop")
    assert ok and output == 'pod "abc" stopped'
    assert [c["argv"] for c in calls(log)] == [["stop", "pod", "abc"]]
    fake_cli(tmp_path / "bin", "vastai", log, exit_code=3, says="401 unauthorized")
    ok, output = run_action(detect({"CONTAINER_ID": "7"}), "terminate")
    assert not ok and "401 unauthorized" in output


def test_a_missing_cli_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    ok, output = run_action(detect({"RUNPOD_POD_ID": "abc"}), "stop")
    assert not ok and "runpodctl is not installed" in output


def test_vast_says_its_price(tmp_path, monkeypatch):
    script = tmp_path / "bin" / "vastai"
    script.parent.mkdir()
    script.write_text('#!/bin/sh\necho \'{"id": 7, "dph_total": 0.412}\'\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{script.parent}")
    assert price_per_hour({"CONTAINER_ID": "7"}) == pytest.approx(0.412)
    assert price_per_hour({"RUNPOD_POD_ID": "x"}) is None


class Recorder:
    def __init__(self) -> None:
        self.events: list[ev.Event] = []
        self.listeners: list = []

    def emit(self, event: ev.Event) -> None:
        self.events.append(event)
        for listener in self.listeners:
            listener(event)


@pytest.fixture
def finished_run(tmp_path):
    run = create_run(tmp_path / "runs", "done")
    (run.output / "done.safetensors").write_bytes(b"final")
    return run


def end_of(run, tmp_path, monkeypatch, rental: dict, mirror: str = "", env: dict | None = None, keep: bool = False, final=None):
    from stylora_tui.rental import lifecycle
    from stylora_tui.trainer import rental as rental_module

    log = tmp_path / "calls.jsonl"
    fake_cli(tmp_path / "bin", "runpodctl", log)
    monkeypatch.setattr(lifecycle, "COUNTDOWN_S", 1)
    monkeypatch.setenv("PATH", with_path(tmp_path / "bin")["PATH"])
    for key, value in (env or {"RUNPOD_POD_ID": "abc"}).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("CONTAINER_ID", raising=False)
    monkeypatch.setenv(CHECK_ENV, str(tmp_path / "mirror" / run.name / "output" / "done.safetensors"))
    config = build_config({"rental": rental, "mirror": {"to": mirror}})
    reporter = Recorder()
    side = rental_module.RentalSide(run, config, reporter)
    if keep:
        threading.Timer(0.3, lambda: control.request(run, control.KEEP_MACHINE)).start()
    released = []
    final = final or ev.RunFinished(output="output/done.safetensors", step=10)
    side.end(final, lambda: released.append(time.time()))
    assert released, "the lock is released before the countdown"
    return reporter.events, calls(log)


def test_a_finished_run_stops_the_machine_once_after_the_mirror_has_it(finished_run, tmp_path, monkeypatch):
    events, made = end_of(finished_run, tmp_path, monkeypatch, {"on_finish": "stop"}, mirror=str(tmp_path / "mirror"))
    assert [c["argv"] for c in made] == [["stop", "pod", "abc"]]
    assert all(made[0]["checked"].values()), "the mirror held the final adapter when the machine was stopped"
    kinds = [type(e).__name__ for e in events]
    assert kinds.index("MirrorSynced") < kinds.index("RentalCountdown") < kinds.index("RentalAction")
    action = events[-1]
    assert (action.action, action.outcome, action.command) == ("stop", "done", "runpodctl stop pod abc")


def test_a_cancelled_countdown_calls_nothing(finished_run, tmp_path, monkeypatch):
    from stylora_tui.rental import lifecycle

    monkeypatch.setattr(lifecycle, "COUNTDOWN_S", 5)
    events, made = end_of(finished_run, tmp_path, monkeypatch, {"on_finish": "terminate"}, keep=True)
    assert made == [] and events[-1].outcome == "cancelled"
    assert control.KEEP_MACHINE not in control.pending(finished_run), "the cancel is consumed"


def test_a_failing_mirror_never_stops_the_machine(finished_run, tmp_path, monkeypatch):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the mirror folder should be")
    events, made = end_of(finished_run, tmp_path, monkeypatch, {"on_finish": "stop"}, mirror=str(blocked / "runs"))
    assert made == []
    assert events[-1].outcome == "skipped" and "the mirror does not hold the run" in events[-1].output
    assert any(isinstance(e, ev.MirrorFailed) for e in events)


def test_no_provider_and_no_command_is_said(finished_run, tmp_path, monkeypatch):
    monkeypatch.delenv("RUNPOD_POD_ID", raising=False)
    events, made = end_of(finished_run, tmp_path, monkeypatch, {"on_finish": "stop"}, env={"SOMETHING": "else"})
    assert made == [] and events[-1].outcome == "skipped" and "[rental] command" in events[-1].output


def test_the_setting_decides(finished_run, tmp_path, monkeypatch):
    events, made = end_of(finished_run, tmp_path, monkeypatch, {"on_finish": "nothing", "on_failure": "stop"})
    assert made == [] and not any(isinstance(e, (ev.RentalCountdown, ev.RentalAction)) for e in events)


@pytest.mark.parametrize(
    "final, expected",
    [
        (ev.RunFailed(reason="out of memory"), [["remove", "pod", "abc"]]),
        (ev.RunStopped(step=4, checkpoint="checkpoints/step-000004"), []),
    ],
    ids=["failed", "stopped-by-the-user"],
)
def test_a_failed_run_gets_on_failure_and_a_stopped_one_nothing(finished_run, tmp_path, monkeypatch, final, expected):
    rental = {"on_finish": "stop", "on_failure": "terminate"}
    events, made = end_of(finished_run, tmp_path, monkeypatch, rental, final=final)
    assert [c["argv"] for c in made] == expected
    if expected:
        assert (events[-1].action, events[-1].outcome) == ("terminate", "done")
    else:
        assert not any(isinstance(e, (ev.RentalCountdown, ev.RentalAction)) for e in events), "the user is here"


def test_a_command_replaces_the_provider(finished_run, tmp_path, monkeypatch):
    marker = tmp_path / "shut-down"
    events, made = end_of(finished_run, tmp_path, monkeypatch, {"on_finish": "stop", "command": f"touch {marker}"})
    assert marker.is_file() and made == [] and events[-1].outcome == "done"


def test_stop_keep_machine_from_the_cli(finished_run):
    from tests.conftest import run_cli

    proc = run_cli("stop", "done", "--keep-machine", "--runs-dir", str(finished_run.path.parent))
    assert proc.returncode == 0, proc.stderr
    assert control.KEEP_MACHINE in control.pending(finished_run)
