from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from stylora_tui.dataset.synthetic import PRACTICE_TAGS, write_practice_dataset  # noqa: F401 - tests import them from here
from stylora_tui.run.catalog import create_run

# Snapshots and Pilot tests must not depend on animation timing; Textual reads this at import.
os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Keep user presets, caches and runs of the developer's machine out of every test."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("STYLORA_RUNS_DIR", raising=False)
    # The default runs root is ./runs: a developer's own runs (make demo) must not be seen.
    work = home / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return home


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `stylora-tui ARGS` as a user would, in a fresh interpreter."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "stylora_tui", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def as_in_a_terminal(*signals: signal.Signals):
    """A Popen `preexec_fn` giving the child `signals` at their default action, as a terminal's
    shell starts a program. A suite run in the background (`nohup`, a `&` job in a script)
    hands every child SIGHUP or SIGINT ignored, and a test that sends one would then see the
    signal do nothing."""

    def reset() -> None:
        for sig in signals:
            signal.signal(sig, signal.SIG_DFL)

    return reset


@pytest.fixture(scope="session")
def practice_dataset(tmp_path_factory) -> Path:
    """30 images at 1024x1536 with tag captions (built once; tests must not modify it)."""
    return write_practice_dataset(tmp_path_factory.mktemp("practice") / "hokusai", 30)


def fake_safetensors(path, keys):
    header = {k: {"dtype": "F16", "shape": [1], "data_offsets": [2 * i, 2 * i + 2]} for i, k in enumerate(keys)}
    header["__metadata__"] = {"format": "pt"}
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * (2 * len(keys)))
    return path


SDXL = [
    "model.diffusion_model.input_blocks.0.0.weight",
    "conditioner.embedders.0.transformer.text_model.final_layer_norm.weight",
    "conditioner.embedders.1.model.ln_final.weight",
    "first_stage_model.decoder.conv_in.weight",
]


TRIGGER = "hokusaistyle"


def picture(seed: int, size=(1024, 1536), mode="RGB") -> Image.Image:
    rng = random.Random(seed)
    image = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    for _ in range(12):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        image.paste(tuple(rng.randrange(256) for _ in range(3)), (x, y, x + size[0] // 3, y + size[1] // 4))
    return image.convert(mode) if mode != "RGB" else image


def caption(folder: Path, stem: str, text: str = f"{TRIGGER}, 1girl, solo") -> None:
    (folder / f"{stem}.txt").write_text(text, encoding="utf-8")


def tree_digest(root: Path) -> dict:
    return {
        str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def run_with_samples(root):
    run = create_run(root, "run-01")
    run.config.write_text("schema_version = 1\n")
    run.status_file.write_text(json.dumps({"state": "finished", "step": 20, "total_steps": 20, "epoch": 2}))
    events = []
    for epoch, loss in ((1, 0.31), (2, 0.27)):
        folder = run.samples / f"e{epoch:04d}"
        folder.mkdir(parents=True)
        for index, colour in enumerate(("red", "green")):
            Image.new("RGB", (64, 96), colour).save(folder / f"{index + 1:02d}.png")
        (folder / "prompts.json").write_text(
            json.dumps({"epoch": epoch, "step": epoch * 10, "prompts": ["a", "b"], "images": ["01.png", "02.png"]})
        )
        (run.output / f"run-01-e{epoch:04d}.safetensors").write_bytes(f"epoch {epoch}".encode())
        events.append({"v": 1, "ts": 1.0, "type": "validation.loss", "epoch": epoch, "loss": loss})
    run.events.write_text("".join(json.dumps(e) + "\n" for e in events))
    return run


class Webhook:
    """A local HTTP server standing in for ntfy/Discord/Slack: records each POST."""

    def __init__(self, status: int = 200) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.received: list[dict] = []
        self.status = status
        webhook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                webhook.received.append({"path": self.path, "headers": dict(self.headers), "body": body})
                self.send_response(webhook.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook():
    server = Webhook()
    yield server
    server.close()
