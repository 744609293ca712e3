"""A run mirrored to a hub repo and brought back, against a local stand-in for the hub.

Each send and fetch runs in a process of its own: huggingface_hub reads its address once,
at import, as a real trainer or `--resume --from` does."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from stylora_tui.rental.destinations import MirrorError, parse
from stylora_tui.rental.hub_mirror import HubRepo
from tests.fakehub import FakeHub, closed_port
from tests.integrations.test_hub_network import hub_home  # noqa: F401 - a fixture
from tests.rental.test_mirror import EXPECTED, a_run, add_checkpoint

pytest.importorskip("huggingface_hub")

SEND = "d.push(RunDir(Path(sys.argv[1])), True)"
FETCH = "d.pull(sys.argv[2], Path(sys.argv[1]))"


@pytest.fixture
def hub(hub_home):  # noqa: F811
    served = FakeHub()
    served.env = {**os.environ, **hub_home, "HF_ENDPOINT": served.url, "HF_TOKEN": "hf_test_token"}
    yield served
    served.close()


def mirror(hub: FakeHub, action: str, path, name: str = "run-01") -> subprocess.CompletedProcess:
    script = (
        "import sys; from pathlib import Path; from stylora_tui.rental.destinations import parse; "
        "from stylora_tui.run.layout import RunDir; d = parse('hf://me/stylora-runs'); " + action
    )
    return subprocess.run(
        [sys.executable, "-c", script, str(path), name], env=hub.env, capture_output=True, text=True, timeout=120
    )


def test_a_run_goes_to_a_private_repo_and_comes_back(tmp_path, hub):
    run = a_run(tmp_path / "runs", steps=(10, 20))
    destination = parse("hf://me/stylora-runs")
    assert isinstance(destination, HubRepo) and destination.describe() == "hf://me/stylora-runs"
    sent = mirror(hub, SEND, run.path)
    assert sent.returncode == 0, sent.stderr
    assert "me/stylora-runs" in hub.private
    assert sorted(hub.repos["me/stylora-runs"]) == [f"run-01/{rel}" for rel in EXPECTED]
    commits = hub.commits
    assert mirror(hub, SEND, run.path).returncode == 0
    assert hub.commits == commits, "nothing changed, nothing sent"
    add_checkpoint(run, 40)
    (run.output / "run-01-e0002.safetensors").write_bytes(b"adapter two")
    assert mirror(hub, SEND, run.path).returncode == 0
    held = hub.repos["me/stylora-runs"]
    assert "run-01/checkpoints/step-000040/COMPLETE" in held and not any("step-000020" in name for name in held)
    assert held["run-01/output/run-01-e0002.safetensors"] == b"adapter two"
    fetched = mirror(hub, FETCH, tmp_path / "back")
    assert fetched.returncode == 0, fetched.stderr
    assert (tmp_path / "back" / "checkpoints" / "step-000040" / "state.safetensors").read_bytes() == b"state 40"
    assert (tmp_path / "back" / "output" / "run-01-e0002.safetensors").read_bytes() == b"adapter two"
    missing = mirror(hub, FETCH, tmp_path / "none", name="run-99")
    assert missing.returncode == 1 and "holds no mirrored run 'run-99'" in missing.stderr


def test_an_unreachable_hub_is_a_mirror_error_that_names_it(tmp_path, hub):
    hub.env["HF_ENDPOINT"] = f"http://127.0.0.1:{closed_port()}"
    sent = mirror(hub, SEND, a_run(tmp_path / "runs").path)
    assert sent.returncode == 1 and "MirrorError" in sent.stderr and "refused the connection" in sent.stderr


def test_a_bad_repo_name_is_said():
    with pytest.raises(MirrorError) as info:
        parse("hf://just-a-name")
    assert "hf://your-name/stylora-runs" in info.value.hint
