from __future__ import annotations

import pytest

from stylora_tui.integrations.clip_tokenizer import load_shipped
from stylora_tui.integrations.machine import Machine
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
        machine=lambda: Machine(("NVIDIA H100 80GB HBM3",), 16), clock=lambda: 1051.0,
    )
