"""Models by name: parsing what users type, and downloads against a local fake hub
(HF_ENDPOINT): verified, resumed after an interruption, reused offline, refused clearly."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stylora_tui.config.bases import KNOWN_BASES
from stylora_tui.errors import ModelError
from stylora_tui.integrations import hub
from tests.conftest import as_in_a_terminal
from tests.fakehub import FakeHub


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("org/repo", hub.HubRef("org/repo", None)),
        ("org/repo@v2.0", hub.HubRef("org/repo", None, "v2.0")),
        ("org/repo/sub/model.safetensors", hub.HubRef("org/repo", "sub/model.safetensors")),
        ("https://huggingface.co/org/repo/blob/main/model.safetensors", hub.HubRef("org/repo", "model.safetensors", "main")),
        ("https://huggingface.co/org/repo", hub.HubRef("org/repo", None)),
        ("noobai-xl-vpred-1.0", hub.HubRef("Laxhar/noobai-XL-Vpred-1.0", None, None, KNOWN_BASES["noobai-xl-vpred-1.0"])),
        ("models/base.safetensors", None),  # a relative file path, not a repo
        ("./org/repo", None),
        ("/models/org/repo.safetensors", None),
        ("demo", None),
    ],
)
def test_what_users_type(spec, expected):
    assert hub.parse(spec) == expected


def test_an_existing_folder_is_a_path_even_when_it_looks_like_a_repo(tmp_path, monkeypatch):
    (tmp_path / "org" / "repo").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert hub.parse("org/repo") is None


def test_pony_gets_directions_not_a_download():
    with pytest.raises(ModelError) as info:
        hub.parse("pony-v6")
    assert "civitai.com/models/257749" in info.value.hint


@pytest.fixture
def fake_hub(tmp_path, monkeypatch):
    server = FakeHub()
    env = {
        "HF_ENDPOINT": server.url,
        "HF_HOME": str(tmp_path / "hf"),
        "XDG_CACHE_HOME": str(tmp_path / "xdg"),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_XET": "1",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    server.env = env
    yield server
    server.close()


def fetch_in_process(spec: str, env: dict, **popen) -> subprocess.Popen | subprocess.CompletedProcess:
    """hub.fetch in a fresh interpreter: huggingface_hub reads HF_ENDPOINT when imported."""
    code = (
        "import sys\nfrom stylora_tui.errors import ModelError\nfrom stylora_tui.integrations import hub\n"
        f"try:\n    print(hub.fetch(hub.parse({spec!r})))\n"
        "except ModelError as exc:\n    sys.exit(f'error: {exc.message}\\nhint: {exc.hint}')\n"
    )
    full_env = {**os.environ, **env}
    if popen:
        return subprocess.Popen([sys.executable, "-c", code], env=full_env, preexec_fn=as_in_a_terminal(signal.SIGINT), **popen)
    return subprocess.run([sys.executable, "-c", code], env=full_env, capture_output=True, text=True, timeout=120)


def test_download_is_verified_then_reused_offline_without_a_request(fake_hub):
    data = os.urandom(3_000_000)
    fake_hub.add("org/tiny", {"tiny.safetensors": data, "README.md": b"# tiny"})
    first = fetch_in_process("org/tiny", fake_hub.env)
    assert first.returncode == 0, first.stderr
    path = first.stdout.strip()
    assert path.endswith("tiny.safetensors") and Path(path).read_bytes() == data
    asked = len(fake_hub.requests)
    again = fetch_in_process("org/tiny", {**fake_hub.env, "HF_HUB_OFFLINE": "1"})
    assert again.returncode == 0 and again.stdout.strip() == path
    assert len(fake_hub.requests) == asked  # no network at all the second time


def test_an_interrupted_download_continues_where_it_stopped(fake_hub):
    data = os.urandom(12_000_000)
    fake_hub.add("org/big", {"big.safetensors": data})
    # ~1.3 MB/s: ~9 s to interrupt after the first 500 KB, however loaded the machine is (at
    # 3 MB/s a busy CI machine once saw the download finish before the signal landed).
    fake_hub.pace_s = 0.05
    proc = fetch_in_process("org/big", fake_hub.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    blobs = fake_hub_blobs(fake_hub)
    deadline = time.time() + 60
    while time.time() < deadline and not any(p.stat().st_size > 500_000 for p in blobs.glob("*.incomplete")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)  # what Ctrl-C or a dropped SSH session does
    proc.wait(30)
    partial = sum(p.stat().st_size for p in blobs.glob("*.incomplete"))
    assert proc.returncode != 0 and 0 < partial < len(data)
    fake_hub.pace_s = 0
    done = fetch_in_process("org/big", fake_hub.env)
    assert done.returncode == 0, done.stderr
    resumed = [r for r in fake_hub.requests if r["method"] == "GET" and r["range"]]
    assert resumed and int(resumed[-1]["range"].split("=")[1].rstrip("-")) >= partial
    assert hashlib.sha256(Path(done.stdout.strip()).read_bytes()).digest() == hashlib.sha256(data).digest()


def fake_hub_blobs(fake_hub, repo: str = "big") -> Path:
    return Path(fake_hub.env["HF_HOME"]) / "hub" / f"models--org--{repo}" / "blobs"


def test_a_corrupted_transfer_is_removed_and_the_next_attempt_is_clean(fake_hub):
    fake_hub.add("org/tiny", {"tiny.safetensors": os.urandom(100_000)})
    fake_hub.corrupt.add("tiny.safetensors")
    broken = fetch_in_process("org/tiny", fake_hub.env)
    assert broken.returncode != 0 and "does not match the hub's checksum" in broken.stderr
    assert not list(fake_hub_blobs(fake_hub, "tiny").iterdir()) or all(
        p.suffix == ".lock" for p in fake_hub_blobs(fake_hub, "tiny").iterdir()
    )
    fake_hub.corrupt.clear()
    fresh = fetch_in_process("org/tiny", fake_hub.env)
    assert fresh.returncode == 0, fresh.stderr


def test_gated_repos_use_the_users_token(fake_hub):
    fake_hub.add("org/gated", {"model.safetensors": os.urandom(1000)})
    fake_hub.gated.add("org/gated")
    refused = fetch_in_process("org/gated", fake_hub.env)
    assert refused.returncode != 0 and "is gated" in refused.stderr and "HF_TOKEN" in refused.stderr
    allowed = fetch_in_process("org/gated", {**fake_hub.env, "HF_TOKEN": "hf_test"})
    assert allowed.returncode == 0, allowed.stderr
    assert any(r["auth"] == "Bearer hf_test" for r in fake_hub.requests)


def test_which_files_a_repo_gives(fake_hub):
    fake_hub.add("org/two", {"a.safetensors": b"a" * 10, "b.safetensors": b"b" * 10})
    two = fetch_in_process("org/two", fake_hub.env)
    assert "holds 2 checkpoints" in two.stderr and "--model org/two/a.safetensors" in two.stderr
    missing = fetch_in_process("org/two/c.safetensors", fake_hub.env)
    assert "has no file c.safetensors" in missing.stderr and "org/two/a.safetensors" in missing.stderr
    folder = {
        "model_index.json": b"{}",
        "unet/config.json": b"{}",
        "unet/diffusion_pytorch_model.safetensors": b"u" * 10,
        "unet/diffusion_pytorch_model.fp16.safetensors": b"h" * 10,
        "unet/diffusion_pytorch_model.bin": b"p" * 10,
        "vae/config.json": b"{}",
        "vae/diffusion_pytorch_model.safetensors": b"v" * 10,
        "README.md": b"#",
    }
    fake_hub.add("org/folder", folder)
    files, layout = hub.choose_files(hub.parse("org/folder"), list(folder))
    assert layout == "folder" and sorted(files) == [
        "model_index.json",
        "unet/config.json",
        "unet/diffusion_pytorch_model.safetensors",
        "vae/config.json",
        "vae/diffusion_pytorch_model.safetensors",
    ]


def test_unknown_repo_and_offline_first_run_say_what_to_do(fake_hub):
    gone = fetch_in_process("org/nope", fake_hub.env)
    assert gone.returncode != 0 and "no model org/nope" in gone.stderr
    offline = fetch_in_process("org/never", {**fake_hub.env, "HF_HUB_OFFLINE": "1"})
    assert offline.returncode != 0 and "HF_HUB_OFFLINE" in offline.stderr and not fake_hub.requests[1:]
