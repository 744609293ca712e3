from __future__ import annotations

import json
import os

import pytest
from textual.widgets import ProgressBar

from stylora_tui.run import events as ev
from stylora_tui.run.catalog import create_run
from stylora_tui.tui.app import StyloraApp
from stylora_tui.tui.services import Services
from tests.tui.conftest import live_run, text_of, wait_until
from tests.tui.fakes import ScriptedSource, training_events

pytestmark = pytest.mark.asyncio


@pytest.fixture
def running(services):
    """A run whose lock this test holds, so the monitor sees a live trainer."""
    run, lock = live_run(services.runs_root)
    yield run
    os.close(lock)


async def test_monitor_shows_progress_loss_gpu_and_outputs(services, running):
    app = StyloraApp(services, monitor=running)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: "step 40/100" in text_of(app, "#stats"))
        stats = text_of(app, "#stats")
        assert "training" in stats and "epoch 5/10" in stats and "1.00 it/s" in stats and "ETA 0:01:00" in stats
        assert app.screen.query_one("#progress", ProgressBar).progress == 40
        assert "loss" in text_of(app, "#loss-info") and "lr 1.00e-04" in text_of(app, "#loss-info")
        gpu = text_of(app, "#gpu")
        assert "H100" in gpu and "97%" in gpu and "20.0/79.6 GiB" in gpu and "61°C" in gpu
        assert "run-01-e0002.safetensors" in text_of(app, "#outputs")


async def test_no_gpu_is_a_state_not_an_error(tmp_path, tokenizer):
    services = Services(
        tmp_path / "runs",
        tokenizers=lambda _p: (tokenizer, tokenizer),
        launcher=None,
        run_source=lambda run: ScriptedSource(training_events(gpu=False)),
    )
    run, lock = live_run(services.runs_root)
    try:
        app = StyloraApp(services, monitor=run)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_until(pilot, lambda: "no NVIDIA GPU found" in text_of(app, "#gpu"))
    finally:
        os.close(lock)


async def test_stop_asks_first_then_requests_through_control(services, running):
    app = StyloraApp(services, monitor=running)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: "step 40" in text_of(app, "#stats"))
        await pilot.press("s")
        assert type(app.screen).__name__ == "ConfirmDialog"
        await pilot.press("n")
        assert not (running.control / "stop").exists()
        await pilot.press("s")
        await pilot.press("y")
        assert (running.control / "stop").exists()
        await pilot.press("v")
        assert (running.control / "save-now").exists()


@pytest.mark.parametrize("on_finish", ["stop", "nothing"])
async def test_k_keeps_the_machine_where_the_run_would_stop_it(services, running, on_finish):
    running.config.write_text(f'schema_version = 1\n[rental]\non_finish = "{on_finish}"\n')
    app = StyloraApp(services, monitor=running)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: "step 40" in text_of(app, "#stats"))
        offered = any(active.binding.action == "keep_machine" and active.enabled for active in app.active_bindings.values())
        await pilot.press("k")
        said = [notification.message for notification in app._notifications]
    if on_finish == "stop":
        assert offered and (running.control / "keep-machine").exists()
        assert said == ["run-01: this machine will be kept when the run ends (a countdown under way is cancelled)"]
    else:
        assert not offered and not (running.control / "keep-machine").exists(), "nothing to keep: k is not offered"


async def test_quit_only_detaches_and_says_so(services, running):
    app = StyloraApp(services, monitor=running)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: "step 40" in text_of(app, "#stats"))
        await pilot.press("q")
    from stylora_tui.views.invocation import resume_command

    assert app.return_value == f"training continues; come back to it with:\n  {resume_command(running)}"
    assert resume_command(running).endswith("--resume run-01")
    assert not (running.control / "stop").exists()


async def test_stopped_run_gets_a_resume_offer(services, tmp_path):
    run = create_run(services.runs_root, "run-02")
    run.status_file.write_text(json.dumps({"state": "stopped", "step": 40, "total_steps": 100}))
    app = StyloraApp(services, monitor=run)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ConfirmDialog")
        assert "run-02 is stopped at step 40" in str(app.screen.query_one("Static").content)
        await pilot.press("n")
        assert services.launcher.launched == []


async def test_sampling_shows_progress_and_the_clock_keeps_running(services, running):
    from dataclasses import replace

    from tests.tui.fakes import ScriptedSource, training_events

    events = training_events() + [ev.SampleProgress(ts=1052.0, label="e0005", epoch=5, step=40, done=5, total=12)]
    now = {"t": 1060.0}
    app = StyloraApp(replace(services, run_source=lambda run: ScriptedSource(events), clock=lambda: now["t"]), monitor=running)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: "samples 5/12" in text_of(app, "#progress-label"))
        assert "sampling" in text_of(app, "#stats")
        first = text_of(app, "#stats")
        now["t"] += 30
        await pilot.pause(1.2)
        assert text_of(app, "#stats") != first, "the elapsed clock runs while samples render"


FINISHED = ev.RunFinished(ts=1060.0, step=40, epoch=4, output="output/run-01.safetensors", train_s=40.0)


@pytest.mark.parametrize(("per_read", "rings"), [(10, 1), (100, 0)])
async def test_the_bell_rings_for_an_end_seen_happening_not_for_an_old_run(tmp_path, tokenizer, per_read, rings):
    """Read a few events at a time, the run is seen training, then finishing: one bell. All
    at once (a run that ended before the monitor opened): no bell."""
    services = Services(
        tmp_path / "runs",
        tokenizers=lambda _p: (tokenizer, tokenizer),
        launcher=None,
        run_source=lambda run: ScriptedSource([*training_events(), FINISHED], per_read=per_read),
    )
    run, lock = live_run(services.runs_root)
    try:
        app = StyloraApp(services, monitor=run)
        bells = []
        app.bell = lambda: bells.append(1)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_until(pilot, lambda: "finished" in text_of(app, "#stats"))
            await pilot.pause(0.5)
        assert len(bells) == rings
    finally:
        os.close(lock)
