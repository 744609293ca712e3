"""The mirror's destinations and its background thread, on run folders made on the spot."""

from __future__ import annotations

import json
import shutil
import subprocess
import time

import pytest

from stylora_tui.errors import RunError
from stylora_tui.launch.restore import restore
from stylora_tui.rental import destinations
from stylora_tui.rental import mirror as mirror_module
from stylora_tui.rental.destinations import Folder, MirrorError, Rsync, parse
from stylora_tui.rental.mirror import Mirror
from stylora_tui.run.catalog import create_run
from stylora_tui.run.mirror_state import read_mirror_state
from tests.rental.fakes import fake_ssh

needs_rsync = pytest.mark.skipif(shutil.which("rsync") is None, reason="rsync is not installed (make install adds it)")


def a_run(root, name="run-01", steps=(10, 20)):
    run = create_run(root, name)
    run.config.write_text('schema_version = 1\n\n[dataset]\npath = "/old/place"\n', encoding="utf-8")
    run.dataset_manifest.write_text(json.dumps({"dataset": "/old/place", "files": {}}), encoding="utf-8")
    run.events.write_text('{"v":1,"type":"log","message":"hi"}\n', encoding="utf-8")
    (run.output / f"{name}-e0001.safetensors").write_bytes(b"adapter one")
    (run.samples / "e0001").mkdir(parents=True)
    (run.samples / "e0001" / "01.png").write_bytes(b"png")
    run.lock.write_text("123")
    run.control.mkdir(exist_ok=True)
    (run.control / "stop").write_text("1")
    (run.output / "half.safetensors.tmp").write_bytes(b"partial")
    for step in steps:
        add_checkpoint(run, step)
    return run


def add_checkpoint(run, step, complete=True):
    folder = run.checkpoints / f"step-{step:06d}"
    folder.mkdir(parents=True)
    (folder / "state.safetensors").write_bytes(f"state {step}".encode())
    if complete:
        (folder / "COMPLETE").write_text("ok")


def mirrored(root, name="run-01"):
    return sorted(str(p.relative_to(root / name)) for p in (root / name).rglob("*") if p.is_file())


EXPECTED = [
    "checkpoints/step-000020/COMPLETE",
    "checkpoints/step-000020/state.safetensors",
    "config.toml",
    "dataset.json",
    "events.jsonl",
    "output/run-01-e0001.safetensors",
    "samples/e0001/01.png",
]


def test_a_folder_gets_the_run_and_only_the_newest_complete_checkpoint(tmp_path):
    run = a_run(tmp_path / "runs", steps=(10, 20))
    add_checkpoint(run, 30, complete=False)  # being written: not sent
    Folder(tmp_path / "mirror").push(run, checkpoints=True)
    assert mirrored(tmp_path / "mirror") == EXPECTED
    add_checkpoint(run, 40)
    Folder(tmp_path / "mirror").push(run, checkpoints=True)
    assert "checkpoints/step-000040/COMPLETE" in mirrored(tmp_path / "mirror")
    assert not any("step-000020" in f for f in mirrored(tmp_path / "mirror")), "older checkpoints dropped"
    Folder(tmp_path / "nockpt").push(run, checkpoints=False)
    assert not any(f.startswith("checkpoints") for f in mirrored(tmp_path / "nockpt"))


@needs_rsync
def test_rsync_over_ssh_with_the_real_rsync(tmp_path, monkeypatch):
    monkeypatch.setenv("STYLORA_RSYNC_SSH", fake_ssh(tmp_path / "bin"))
    run = a_run(tmp_path / "runs", steps=(10, 20))
    (tmp_path / "remote").mkdir()
    destination = parse(f"me@rental-box:{tmp_path / 'remote'}")
    assert isinstance(destination, Rsync)
    destination.push(run, checkpoints=True)
    assert mirrored(tmp_path / "remote") == EXPECTED
    add_checkpoint(run, 40)
    (run.samples / "e0001" / "01.png").unlink()
    destination.push(run, checkpoints=True)
    files = mirrored(tmp_path / "remote")
    assert "checkpoints/step-000040/COMPLETE" in files and "checkpoints/step-000020/COMPLETE" not in files
    assert "samples/e0001/01.png" not in files, "the mirror follows the run"
    destination.pull("run-01", tmp_path / "back")
    assert (tmp_path / "back" / "checkpoints" / "step-000040" / "state.safetensors").read_bytes() == b"state 40"


@pytest.mark.parametrize("kind", ["folder", pytest.param("rsync", marks=needs_rsync)])
def test_a_checkpoint_replaced_while_it_is_sent_still_arrives_whole(tmp_path, monkeypatch, kind):
    """The trainer keeps one checkpoint and saves the next while the mirror is sending the
    last (checkpoints can come faster than they travel): the send still delivers a complete
    checkpoint, never fails for it, and the next send delivers the newer one."""
    run = a_run(tmp_path / "runs", steps=(20,))
    (tmp_path / "remote").mkdir()

    def trainer_saves_again():
        if (run.checkpoints / "step-000020").exists():
            shutil.rmtree(run.checkpoints / "step-000020")
            add_checkpoint(run, 30)

    if kind == "folder":
        destination = Folder(tmp_path / "remote")
        copy = destinations._copy_if_changed

        def copy_while_training(source, target):
            if "checkpoints" in target.parts:
                trainer_saves_again()
            copy(source, target)

        monkeypatch.setattr(destinations, "_copy_if_changed", copy_while_training)
    else:
        monkeypatch.setenv("STYLORA_RSYNC_SSH", fake_ssh(tmp_path / "bin"))
        destination = parse(f"me@rental-box:{tmp_path / 'remote'}")
        started = subprocess.run
        sent: list = []

        def rsync_while_training(command, **kwargs):
            sent.append(command)
            if len(sent) == 2:  # the run's files are there; its checkpoint goes next
                trainer_saves_again()
            return started(command, **kwargs)

        monkeypatch.setattr(subprocess, "run", rsync_while_training)
    destination.push(run, checkpoints=True)
    files = mirrored(tmp_path / "remote")
    assert "checkpoints/step-000020/COMPLETE" in files
    there = tmp_path / "remote" / "run-01" / "checkpoints" / "step-000020" / "state.safetensors"
    assert there.read_bytes() == b"state 20"
    destination.push(run, checkpoints=True)
    files = mirrored(tmp_path / "remote")
    assert "checkpoints/step-000030/COMPLETE" in files and not any("step-000020" in f for f in files)
    assert not (run.path / ".mirror-held").exists(), "nothing of the send is left in the run"


@pytest.mark.parametrize("kind", ["folder", pytest.param("rsync", marks=needs_rsync)])
def test_files_the_trainer_makes_and_removes_as_it_runs_never_fail_a_send(tmp_path, monkeypatch, kind):
    """The disk-space reserve (logs/.space-reserve) and staged writes come and go while the
    trainer runs: they are never sent, and a file removed between the listing and its copy
    is simply not part of the run any more (it made the final send fail, so the machine was
    never stopped)."""
    run = a_run(tmp_path / "runs", steps=(20,))
    (run.path / "logs").mkdir(exist_ok=True)
    (run.path / "logs" / ".space-reserve").write_bytes(b"\0" * 1024)
    staged = run.samples / "e0002.4242.tmp"
    staged.mkdir(parents=True)
    (staged / "01.png").write_bytes(b"half a preview")
    (run.path / "going.txt").write_text("removed by the trainer mid-send")
    (tmp_path / "remote").mkdir()
    if kind == "folder":
        destination = Folder(tmp_path / "remote")
        copy = destinations._copy_if_changed

        def copy_while_training(source, target):
            (run.path / "going.txt").unlink(missing_ok=True)
            copy(source, target)

        monkeypatch.setattr(destinations, "_copy_if_changed", copy_while_training)
    else:
        monkeypatch.setenv("STYLORA_RSYNC_SSH", fake_ssh(tmp_path / "bin"))
        destination = parse(f"me@rental-box:{tmp_path / 'remote'}")
    destination.push(run, checkpoints=True)
    files = mirrored(tmp_path / "remote")
    assert "checkpoints/step-000020/COMPLETE" in files and "config.toml" in files
    assert not any(".space-reserve" in f or ".tmp" in f for f in files), files


@needs_rsync
def test_an_rsync_that_fails_says_why(tmp_path, monkeypatch):
    monkeypatch.setenv("STYLORA_RSYNC_SSH", fake_ssh(tmp_path / "bin"))
    run = a_run(tmp_path / "runs")
    with pytest.raises(MirrorError) as info:
        parse(f"me@box:{tmp_path / 'no' / 'such' / 'place'}").push(run, checkpoints=True)
    assert "rsync to me@box:" in info.value.message


def test_parse_tells_destinations_apart(tmp_path):
    assert isinstance(parse(str(tmp_path)), Folder)
    assert isinstance(parse("relative/folder"), Folder)
    assert isinstance(parse("user@host.example:runs"), Rsync) and isinstance(parse("host:/srv/runs"), Rsync)
    with pytest.raises(MirrorError):
        parse("  ")


class Flaky:
    """A destination that fails `failures` times, then works."""

    def __init__(self, failures: int) -> None:
        self.failures, self.pushes = failures, 0

    def describe(self) -> str:
        return "flaky"

    def push(self, run, checkpoints):
        self.pushes += 1
        if self.pushes <= self.failures:
            raise MirrorError(f"no route to host (try {self.pushes})")


def test_failures_are_retried_with_back_off_and_never_raised(tmp_path, monkeypatch):
    monkeypatch.setattr(mirror_module, "FIRST_RETRY_S", 0.05)
    run = a_run(tmp_path / "runs")
    heard = []
    mirror = Mirror(run, Flaky(2), True, heard.append)
    try:
        assert mirror.flush(5) is False, "the first send failed"
        deadline = time.time() + 5
        while not (heard and not heard[-1].error) and time.time() < deadline:
            time.sleep(0.05)
        assert [bool(s.error) for s in heard] == [True, True, False]
        assert heard[1].retry_in_s == pytest.approx(0.1), "the wait doubles"
        state = read_mirror_state(run)
        assert state is not None and state.error == "" and state.last_ok_ts is not None and state.failures == 0
        assert mirror.flush(5) is True
    finally:
        mirror.close()


def test_a_failing_mirror_is_recorded_for_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(mirror_module, "FIRST_RETRY_S", 60)
    run = a_run(tmp_path / "runs")
    mirror = Mirror(run, Flaky(99), True)
    try:
        assert mirror.flush(5) is False
        state = read_mirror_state(run)
        assert state.error == "no route to host (try 1)" and state.retry_in_s == 60 and state.failures == 1
    finally:
        mirror.close()


def test_restore_brings_a_run_back_and_points_it_at_this_machine(tmp_path):
    run = a_run(tmp_path / "old", steps=(10,))
    Folder(tmp_path / "mirror").push(run, checkpoints=True)
    here = tmp_path / "data"
    here.mkdir()
    restored = restore("run-01", str(tmp_path / "mirror"), tmp_path / "new", dataset=str(here))
    assert (restored.checkpoints / "step-000010" / "COMPLETE").is_file()
    assert f'path = "{here}"' in restored.config.read_text()
    assert json.loads(restored.dataset_manifest.read_text())["dataset"] == str(here)
    assert not restored.lock.exists() and not (restored.control / "stop").exists()
    with pytest.raises(RunError) as info:
        restore("run-01", str(tmp_path / "mirror"), tmp_path / "new")
    assert "already in" in info.value.message
    with pytest.raises(MirrorError) as missing:
        restore("run-02", str(tmp_path / "mirror"), tmp_path / "new")
    assert "no mirrored run 'run-02'" in missing.value.message and missing.value.hint == "it holds run-01"
    assert not (tmp_path / "new" / "run-02").exists() and not list((tmp_path / "new").glob(".*restoring"))
    with pytest.raises(MirrorError) as nowhere:
        restore("run-01", str(tmp_path / "unmounted"), tmp_path / "elsewhere")
    assert nowhere.value.message == f"mirror folder {tmp_path / 'unmounted'} does not exist"
    assert not (tmp_path / "unmounted").exists(), "a restore never creates the folder it reads from"
