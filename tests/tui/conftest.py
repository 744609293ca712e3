from __future__ import annotations

import json
import os

import pytest
from textual.widgets import Static

from stylora_tui.integrations.clip_tokenizer import load_shipped
from stylora_tui.integrations.machine import Machine
from stylora_tui.run.catalog import create_run
from stylora_tui.run.lock import acquire_lock
from stylora_tui.tui.services import Services
from tests.tui.fakes import RecordingLauncher, ScriptedSource, training_events


@pytest.fixture(scope="session")
def tokenizer():
    return load_shipped()


@pytest.fixture
def services(tmp_path, tokenizer):
    events = training_events()
    return Services(
        runs_root=tmp_path / "runs",
        tokenizers=lambda _path: (tokenizer, tokenizer),
        launcher=RecordingLauncher(),
        run_source=lambda run: ScriptedSource(events),
        machine=lambda: Machine(("NVIDIA H100 80GB HBM3",), 16),
        clock=lambda: 1051.0,
    )


def text_of(app, selector: str) -> str:
    """What a Static shows, as plain text (tables and markup rendered)."""
    from io import StringIO

    from rich.console import Console

    content = app.screen.query_one(selector, Static).content
    if isinstance(content, str):  # Textual markup ([$error] and the like): as the Static reads it
        from textual.content import Content

        content = Content.from_markup(content).plain
    buffer = StringIO()
    Console(file=buffer, width=78, color_system=None).print(content)
    return buffer.getvalue()


async def wait_until(pilot, predicate, tries: int = 100):
    for _ in range(tries):
        if predicate():
            return
        await pilot.pause(0.05)
    raise AssertionError("condition never became true")


def live_run(root):
    run = create_run(root, "run-01")
    run.config.write_text("schema_version = 1\n")
    run.status_file.write_text(json.dumps({"state": "running", "pid": os.getpid(), "step": 40, "total_steps": 100}))
    return run, acquire_lock(run)
