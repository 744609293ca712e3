"""Hostile strings never act on the terminal: the wizard's file browser over names carrying
OSC 52 (clipboard write), a title change, a screen clear and a bidi override, and the
monitor over a GPU name carrying the same. The TUI runs in a real pseudo-terminal and every
byte it writes is read: the payloads never appear raw, their written-out form does."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="needs a Linux pseudo-terminal")

CLIPBOARD = "\x1b]52;c;cHduZWQ=\x07"
TITLE = "\x1b]2;PWNED\x07"
CLEAR = "\x1b[2J\x1b[3J"
BIDI = "\u202egpj.exe"
PAYLOADS = [p.encode() for p in (CLIPBOARD, TITLE, BIDI)] + [b"\x1b[3J"]


def run_in_pty(args: list[str], cwd: Path, keys: list[tuple[float, bytes]], seconds: float) -> bytes:
    """Everything `stylora-tui ARGS` writes to an 80x24 terminal while `keys` are typed."""
    import fcntl
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {
        **os.environ,
        "TERM": "xterm-256color",
        "COLORTERM": "truecolor",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "stylora_tui", *args],
        cwd=cwd,
        env=env,
        stdin=follower,
        stdout=follower,
        stderr=follower,
        start_new_session=True,
        close_fds=True,
    )
    os.close(follower)
    output = bytearray()
    started = time.monotonic()
    pending = list(keys)
    try:
        while time.monotonic() - started < seconds:
            if pending and time.monotonic() - started >= pending[0][0]:
                os.write(leader, pending.pop(0)[1])
            ready, _, _ = select.select([leader], [], [], 0.05)
            if ready:
                try:
                    output += os.read(leader, 65536)
                except OSError:
                    break
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        os.close(leader)
    return bytes(output)


def assert_nothing_raw(output: bytes) -> None:
    for payload in PAYLOADS:
        assert payload not in output, f"{payload!r} reached the terminal"


def test_the_file_browser_writes_hostile_names_out(tmp_path):
    folder = tmp_path / "datasets"
    folder.mkdir()
    for name in (f"clip{CLIPBOARD}", f"title{TITLE}", f"clear{CLEAR}", f"bidi{BIDI}"):
        (folder / name).mkdir()
    # Ctrl-O opens the browser on the model step, starting in the current folder.
    output = run_in_pty([], folder, [(6.0, b"\x0f")], 14.0)
    assert b"step 1/5" in output, output[-2000:]
    assert_nothing_raw(output)
    assert b"\\x1b]52;c;cHduZWQ=\\x07" in output and b"\\u202egpj.exe" in output


def test_the_monitor_writes_a_hostile_gpu_name_out(tmp_path):
    from stylora_tui.run.catalog import create_run

    run = create_run(tmp_path / "runs", "run-01")
    run.config.write_text("schema_version = 1\n")
    run.status_file.write_text(json.dumps({"state": "stopped", "step": 5, "total_steps": 10}))
    events = [
        {"v": 1, "ts": time.time(), "type": "run.started", "total_steps": 10, "epochs": 1},
        {
            "v": 1,
            "ts": time.time(),
            "type": "gpu.sample",
            "gpus": [{"index": 0, "name": f"H100{TITLE}{CLIPBOARD}{BIDI}", "utilization_pct": 90}],
        },
        {"v": 1, "ts": time.time(), "type": "log", "message": f"hello{CLEAR}{CLIPBOARD}"},
        {"v": 1, "ts": time.time(), "type": "run.stopped", "step": 5},
    ]
    run.events.write_text("".join(json.dumps(e) + "\n" for e in events))
    # A stopped run asks whether to resume it: "n" keeps the monitor on screen.
    output = run_in_pty(["--resume", "run-01", "--runs-dir", str(tmp_path / "runs")], tmp_path, [(6.0, b"n")], 11.0)
    assert b"run-01" in output, output[-2000:]
    assert_nothing_raw(output)
    assert b"\\x1b]2;PWNED" in output
