"""The commands that take a run's outputs home, as printed for the user's own computer: the
address they name, and the rsync one run for real (an `ssh` on PATH that runs the remote side
here)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from stylora_tui.rental.take_home import address_note, take_home
from stylora_tui.run.catalog import create_run
from tests.conftest import run_cli
from tests.rental.fakes import fake_ssh, with_path

PUBLIC = {"SSH_CONNECTION": "203.0.113.9 50122 93.184.216.34 22"}
INSIDE = {"SSH_CONNECTION": "100.64.3.2 50122 172.17.0.2 22"}  # a provider's proxy to a container


@pytest.fixture
def run(tmp_path):
    run = create_run(tmp_path / "runs", "run-03")
    (run.output / "run-03.safetensors").write_bytes(os.urandom(4096))
    (run.output / "run-03-e0010.safetensors").write_bytes(os.urandom(2048))
    return run


def test_the_commands_name_this_sessions_address_and_port(run):
    folder = run.output.absolute()
    assert take_home(run.output, PUBLIC, user="root") == [
        f"rsync -avP -e ssh root@93.184.216.34:{folder}/ ./run-03/",
        f"scp -r root@93.184.216.34:{folder} .",
    ]
    assert address_note(PUBLIC) == ""
    on_2222 = take_home(run.output, {"SSH_CONNECTION": "203.0.113.9 50122 93.184.216.34 2222"}, user="root")
    assert on_2222 == [
        f"rsync -avP -e 'ssh -p 2222' root@93.184.216.34:{folder}/ ./run-03/",
        f"scp -P 2222 -r root@93.184.216.34:{folder} .",
    ]
    ipv6 = take_home(run.output, {"SSH_CONNECTION": "2001:db8::9 50122 2001:db8::7 22"}, user="me")
    assert ipv6[0] == f"rsync -avP -e ssh 'me@[2001:db8::7]:{folder}/' ./run-03/"
    assert take_home(run.output, {}, user="root") == [], "no way known: nothing printed"


def test_a_providers_public_address_comes_before_the_sessions_and_runpod_can_send(run):
    runpod = {**INSIDE, "RUNPOD_POD_ID": "pod7", "RUNPOD_PUBLIC_IP": "194.68.245.3", "RUNPOD_TCP_PORT_22": "22087"}
    commands = take_home(run.output, runpod, user="root")
    assert commands[0] == f"rsync -avP -e 'ssh -p 22087' root@194.68.245.3:{run.output.absolute()}/ ./run-03/"
    assert commands[-1].startswith(f"on this pod: runpodctl send {run.output.absolute()}")
    assert address_note(runpod) == "", "the provider's address is a public one"
    vast = {**INSIDE, "PUBLIC_IPADDR": "74.1.2.3", "VAST_TCP_PORT_22": "40022"}
    assert "root@74.1.2.3:" in take_home(run.output, vast, user="root")[0] and address_note(vast) == ""


def test_an_inside_address_is_said_to_be_one(run):
    note = address_note(INSIDE)
    assert note.startswith("172.17.0.2 is the address this SSH session reached, not a public one")
    assert "put the host and port you ssh to in place of 172.17.0.2 and 22" in note


@pytest.mark.skipif(shutil.which("rsync") is None, reason="needs rsync")
def test_the_printed_rsync_brings_the_outputs_home(run, tmp_path):
    bin_dir = tmp_path / "bin"
    shutil.copy(fake_ssh(bin_dir), bin_dir / "ssh")  # `ssh -p PORT HOST CMD` runs CMD here
    home = tmp_path / "home"
    home.mkdir()
    command = take_home(run.output, {"SSH_CONNECTION": "203.0.113.9 50122 93.184.216.34 2222"})[0]
    done = subprocess.run(["sh", "-c", command], cwd=home, env=with_path(bin_dir), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    for made in run.output.iterdir():
        assert (home / "run-03" / made.name).read_bytes() == made.read_bytes()


def test_runs_name_prints_the_commands_and_the_note(run):
    env = {**os.environ, **INSIDE}
    shown = run_cli("runs", "run-03", "--runs-dir", str(run.path.parent), env=env)
    assert shown.returncode == 0, shown.stderr
    text = " ".join(shown.stdout.split())
    assert "take the outputs home (on your own computer):" in text
    assert "@172.17.0.2:" in text and "note: 172.17.0.2 is the address this SSH session reached" in text
    data = json.loads(run_cli("runs", "run-03", "--json", "--runs-dir", str(run.path.parent), env=env).stdout)
    assert data["take_home"][0].startswith("rsync -avP -e ssh ") and data["take_home_note"].startswith("172.17.0.2 is")
    public = json.loads(
        run_cli("runs", "run-03", "--json", "--runs-dir", str(run.path.parent), env={**os.environ, **PUBLIC}).stdout
    )
    assert "@93.184.216.34:" in public["take_home"][0] and public["take_home_note"] == ""


def test_the_end_of_run_summary_says_the_way_home_and_the_note(run, monkeypatch):
    from io import StringIO

    from rich.console import Console

    from stylora_tui.run.state import RunState
    from stylora_tui.run.status import FINISHED
    from stylora_tui.views.rental import summarize_rental

    for key, value in INSIDE.items():
        monkeypatch.setenv(key, value)
    for key in ("RUNPOD_POD_ID", "RUNPOD_PUBLIC_IP", "PUBLIC_IPADDR"):
        monkeypatch.delenv(key, raising=False)
    buffer = StringIO()
    summarize_rental(RunState(name="run-03", phase=FINISHED), run, Console(file=buffer, width=400, color_system=None))
    lines = buffer.getvalue().splitlines()
    assert lines[0] == "take the outputs home (on your own computer):"
    assert lines[1].startswith("  rsync -avP -e ssh ") and "@172.17.0.2:" in lines[1]
    assert lines[-1].startswith("  note: 172.17.0.2 is the address this SSH session reached")
