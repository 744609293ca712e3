"""Snapshots of each screen at 80x24, in a clean and a problem state.

Paths shown on screen must not depend on where the tests run, so the demo dataset is
copied to a fixed folder first. Update after a deliberate UI change with
`pytest tests/tui/test_snapshots.py --snapshot-update` and review the SVGs.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from stylora_tui.config.wizard import WizardState
from stylora_tui.integrations.machine import Machine
from stylora_tui.paths import examples_dir
from stylora_tui.tui.app import StyloraApp
from stylora_tui.tui.services import Services
from tests.tui.conftest import live_run
from tests.tui.fakes import RecordingLauncher, ScriptedSource, training_events

FIXED = Path("/tmp/stylora-snapshots")


@pytest.fixture
def fixed(tokenizer):
    if FIXED.exists():
        shutil.rmtree(FIXED)
    shutil.copytree(examples_dir() / "demo-style", FIXED / "demo-style")
    broken = FIXED / "broken"
    shutil.copytree(examples_dir() / "demo-style", broken)
    (broken / "01-sun.jpg").write_bytes(b"")
    (broken / "02-house.txt").unlink()
    shutil.copy(broken / "03-cat.jpg", broken / "09-copy.jpg")
    (FIXED / "model.ckpt").write_bytes(b"x")
    yield Services(
        FIXED / "runs",
        tokenizers=lambda _p: (tokenizer, tokenizer),
        launcher=RecordingLauncher(),
        run_source=lambda run: ScriptedSource(training_events()),
        machine=lambda: Machine(("NVIDIA H100 80GB HBM3",), 16),
        clock=lambda: 1051.0,
    )
    shutil.rmtree(FIXED, ignore_errors=True)


def state(**changes) -> WizardState:
    base = dict(
        family="animagine", model_path="demo", dataset_path=str(FIXED / "demo-style"), trigger="stylorademostyle", preset="demo"
    )
    return WizardState(**{**base, **changes})


async def settle(pilot, predicate=lambda: True, tries: int = 1200) -> None:
    """Wait for `predicate` (up to a minute: a loaded CI machine starts the dataset check's
    process pool slowly), then for the screen to settle."""
    for _ in range(tries):
        await pilot.pause(0.05)
        if predicate():
            break
    await pilot.pause(0.2)


def at_step(step: str, predicate=None):
    async def run_before(pilot) -> None:
        pilot.app.show_step(step)
        await settle(pilot, (lambda: predicate(pilot.app)) if predicate else (lambda: True))

    return run_before


def test_model_clean(snap_compare, fixed):
    assert snap_compare(StyloraApp(fixed, state()), terminal_size=(80, 24))


def test_model_pickle_refused(snap_compare, fixed):
    assert snap_compare(StyloraApp(fixed, state(model_path=str(FIXED / "model.ckpt"))), press=["ctrl+n"], terminal_size=(80, 24))


def test_dataset_clean(snap_compare, fixed):
    app = StyloraApp(fixed, state())
    assert snap_compare(app, run_before=at_step("dataset", lambda a: a.report is not None), terminal_size=(80, 24))


def test_dataset_with_problems(snap_compare, fixed):
    app = StyloraApp(fixed, state(dataset_path=str(FIXED / "broken")))
    assert snap_compare(app, run_before=at_step("dataset", lambda a: a.report is not None), terminal_size=(80, 24))


def test_trigger_ok(snap_compare, fixed):
    assert snap_compare(StyloraApp(fixed, state()), run_before=at_step("trigger"), terminal_size=(80, 24))


def test_trigger_error(snap_compare, fixed):
    assert snap_compare(
        StyloraApp(fixed, state(trigger="score_9", family="pony")), run_before=at_step("trigger"), terminal_size=(80, 24)
    )


def test_preset_clean(snap_compare, fixed):
    assert snap_compare(StyloraApp(fixed, state()), run_before=at_step("preset"), terminal_size=(80, 24))


def test_preset_invalid_field(snap_compare, fixed):
    async def run_before(pilot) -> None:
        pilot.app.show_step("preset")
        await settle(pilot)
        pilot.app.screen.query_one("#f-network-alpha").value = "500"
        await settle(pilot)

    assert snap_compare(StyloraApp(fixed, state()), run_before=run_before, terminal_size=(80, 24))


def test_review(snap_compare, fixed):
    async def run_before(pilot) -> None:
        pilot.app.show_step("dataset")
        await settle(pilot, lambda: pilot.app.report is not None)
        pilot.app.show_step("review")
        await settle(pilot)

    assert snap_compare(StyloraApp(fixed, state()), run_before=run_before, terminal_size=(80, 24))


def test_monitor_training(snap_compare, fixed):
    run, lock = live_run(fixed.runs_root)
    try:
        app = StyloraApp(fixed, monitor=run)
        assert snap_compare(app, run_before=lambda pilot: settle(pilot), terminal_size=(80, 24))
    finally:
        os.close(lock)


def test_monitor_no_gpu(snap_compare, fixed, tokenizer):
    fixed.run_source = lambda run: ScriptedSource(training_events(gpu=False))
    run, lock = live_run(fixed.runs_root)
    try:
        assert snap_compare(StyloraApp(fixed, monitor=run), run_before=lambda pilot: settle(pilot), terminal_size=(80, 24))
    finally:
        os.close(lock)
