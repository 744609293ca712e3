"""The headless view (`train`, `--resume --headless`, `make demo` without a terminal) says every
save once, even when one poll of the event log brings several."""

from __future__ import annotations

from stylora_tui.run import event_log as log
from stylora_tui.run import events as ev
from stylora_tui.run.layout import RunDir
from stylora_tui.run.watch import Watch
from stylora_tui.views.headless import describe, follow


def finished_run(tmp_path) -> RunDir:
    run = RunDir(tmp_path / "run-01")
    (run.path / "output").mkdir(parents=True)
    for name in ("run-01-e0001.safetensors", "run-01.safetensors"):
        (run.output / name).write_bytes(b"x")
    writer = log.EventWriter(run.events)
    writer.write(ev.RunStarted(run="run-01", step=0, epoch=1, total_steps=4, epochs=2))
    for step in (1, 2):
        writer.write(ev.TrainStep(step=step, epoch=1, loss=0.1, lr=1e-4))
    writer.write(ev.EpochFinished(epoch=1, step=2))
    writer.write(ev.OutputSaved(epoch=1, step=2, path="output/run-01-e0001.safetensors"))
    writer.write(ev.CheckpointSaved(step=2, epoch=2, path="checkpoints/step-000002"))
    for step in (3, 4):
        writer.write(ev.TrainStep(step=step, epoch=2, loss=0.1, lr=1e-4))
    writer.write(ev.OutputSaved(epoch=2, step=4, path="output/run-01.safetensors"))
    writer.write(ev.RunFinished(step=4, epoch=2, output="output/run-01.safetensors"))
    return run


def test_every_save_in_one_poll_is_said_once_and_in_order(tmp_path, capsys):
    follow(finished_run(tmp_path), stop_on_interrupt=False)  # the whole log arrives in the first poll
    lines = [line.strip() for line in capsys.readouterr().out.splitlines()]
    said = [line for line in lines if line.startswith(("saved", "checkpoint at")) or line == "finished"]
    assert said == [
        "saved output/run-01-e0001.safetensors",
        "checkpoint at step 2",
        "saved output/run-01.safetensors",
        "finished",
    ]
    assert any(line.startswith("finished run-01 at step 4") for line in lines)


def test_a_poll_keeps_the_line_each_event_added(tmp_path):
    watch = Watch(finished_run(tmp_path), alive=lambda: False)
    watch.poll()
    assert [(event.TYPE, line) for event, line in watch.said] == [
        ("run.started", "started at step 0"),
        ("output.saved", "saved output/run-01-e0001.safetensors"),
        ("checkpoint.saved", "checkpoint at step 2"),
        ("output.saved", "saved output/run-01.safetensors"),
        ("run.finished", "finished"),
    ]
    assert watch.poll() == [] and watch.said == []


def test_before_the_trainer_reports_the_plain_line_says_it_is_starting(tmp_path):
    watch = Watch(RunDir(tmp_path / "run-02"), alive=lambda: True)
    assert describe(watch.state) == "starting: loading the model"


def test_the_finished_summary_prints_a_compare_command_that_runs_as_printed(tmp_path, capsys):
    """Pasted into a new shell without the virtual environment on PATH, the printed command
    must still name this installation (views/invocation.py), as the resume command does."""
    import shlex

    from stylora_tui.views.invocation import program

    run = finished_run(tmp_path)
    log.EventWriter(run.events).write(
        ev.AdapterSuggested(epoch=1, adapter="run-01-e0001.safetensors", why="e1: the best style score")
    )
    follow(run, stop_on_interrupt=False)
    line = next(line for line in capsys.readouterr().out.splitlines() if "side by side" in line)
    printed = line.split("`")[1]
    assert printed.startswith(program() + " compare run-01")
    assert shlex.split(printed)[-2:] == ["-o", "sheet.png"]


def test_a_countdown_that_starts_with_the_end_is_said(tmp_path, capsys):
    """The machine's countdown begins as soon as the trainer has ended (no mirror to wait for):
    it arrives in the poll that brings the final event, and must be said all the same."""
    run = finished_run(tmp_path)
    writer = log.EventWriter(run.events)
    writer.write(ev.RentalCountdown(action="stop", seconds=120, provider="RunPod pod pod7"))
    writer.write(ev.RentalAction(action="stop", outcome="done", command="runpodctl stop pod pod7", output="pod stopped"))
    follow(run, stop_on_interrupt=False)
    lines = [line.strip() for line in capsys.readouterr().out.splitlines()]
    assert "stop this machine in 120 s (RunPod pod pod7); stylora-tui stop run-01 --keep-machine cancels" in lines
    assert any(line.startswith("stop: runpodctl stop pod pod7") for line in lines), lines
