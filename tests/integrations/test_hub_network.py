"""A hub that cannot be reached never crashes anything: every network failure a rental
meets (refused, DNS, no answer, TLS, a proxy, HTTP 5xx, a garbage answer), at the listing
and at the download, is one error line and one hint, exit 1, no traceback. Run against
every huggingface_hub the range allows: the newest (`make test`), the lowest (`make
test-lowest`) and one 1.x in between (`make test-hub-middle`), whose HTTP libraries
(requests, httpx, httpx2) raise different exceptions."""

from __future__ import annotations

import errno
import socket
import ssl

import pytest

from stylora_tui.integrations import network
from tests.conftest import run_cli
from tests.fakehub import FakeHub, FaultServer, closed_port


@pytest.fixture
def hub_home(tmp_path, monkeypatch):
    env = {
        "HF_HOME": str(tmp_path / "hf"),
        "XDG_CACHE_HOME": str(tmp_path / "xdg"),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_XET": "1",
        "HF_HUB_DOWNLOAD_TIMEOUT": "2",
        "HF_HUB_ETAG_TIMEOUT": "2",
    }
    for key in (
        "HF_TOKEN",
        "HF_HUB_OFFLINE",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
    ):
        monkeypatch.delenv(key, raising=False)
    return env


@pytest.fixture
def broken(request, hub_home):
    """(environment, words the error must contain) for one way the network fails."""
    kind = request.param
    servers = []

    def serve(server):
        servers.append(server)
        return server

    if kind == "refused":
        env, words = {"HF_ENDPOINT": f"http://127.0.0.1:{closed_port()}"}, "refused the connection"
    elif kind == "dns":
        env, words = {"HF_ENDPOINT": "http://stylora-no-such-hub.invalid"}, "could not be resolved"
    elif kind == "timeout":
        env, words = {"HF_ENDPOINT": serve(FaultServer("stall")).url}, "did not answer in time"
    elif kind == "tls":
        # https spoken to a server that answers in plain HTTP: the handshake fails.
        env, words = {"HF_ENDPOINT": serve(FaultServer("status")).url.replace("http:", "https:")}, "TLS"
    elif kind == "proxy-refused":
        hub = serve(FakeHub())
        env, words = {"HF_ENDPOINT": hub.url, "HTTP_PROXY": f"http://127.0.0.1:{closed_port()}"}, "proxy"
    elif kind == "proxy-407":
        hub = serve(FakeHub())
        env, words = {"HF_ENDPOINT": hub.url, "HTTP_PROXY": serve(FaultServer("status", 407)).url}, "407"
    elif kind == "http-503":
        env, words = {"HF_ENDPOINT": serve(FaultServer("status", 503)).url}, "HTTP 503"
    elif kind == "garbage":
        env, words = {"HF_ENDPOINT": serve(FaultServer("garbage")).url}, "not valid HTTP"
    yield {**hub_home, **env}, words
    for server in servers:
        server.close()


KINDS = ["refused", "dns", "timeout", "tls", "proxy-refused", "proxy-407", "http-503", "garbage"]


def one_error(result, words: str) -> None:
    assert result.returncode == 1, (result.returncode, result.stderr[-3000:])
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [i for i, line in enumerate(lines) if line.startswith("error: ")]
    assert len(errors) == 1 and lines[errors[0] + 1].startswith("hint: ") and errors[0] + 2 == len(lines), result.stderr
    assert words in lines[errors[0]], lines


@pytest.mark.parametrize("broken", KINDS, indirect=True)
def test_plan_with_a_hub_model_says_what_failed(broken, tmp_path):
    env, words = broken
    one_error(
        run_cli("plan", "--model", "org/some-sdxl", "--json", "--runs-dir", str(tmp_path / "runs"), env=env, timeout=120), words
    )


@pytest.mark.parametrize("broken", ["refused", "http-503", "garbage"], indirect=True)
def test_train_and_tag_by_name_say_what_failed(broken, tmp_path, practice_dataset):
    env, words = broken
    one_error(
        run_cli(
            "train",
            "--model",
            "noobai-xl-1.1",
            "--dataset",
            str(practice_dataset),
            "--trigger",
            "zqstyle",
            "--runs-dir",
            str(tmp_path / "runs"),
            env=env,
            timeout=120,
        ),
        words,
    )
    one_error(
        run_cli(
            "tag",
            str(practice_dataset),
            "-o",
            str(tmp_path / "tagged"),
            "--trigger",
            "zqstyle",
            "--tagger",
            "SmilingWolf/wd-eva02-large-tagger-v3",
            env=env,
            timeout=120,
        ),
        words,
    )
    assert not (tmp_path / "tagged").exists() or not any((tmp_path / "tagged").iterdir())


@pytest.mark.parametrize(
    ("fault", "words"), [("503", "HTTP 503"), ("garbage", "not valid HTTP"), ("stall", "did not answer in time")]
)
def test_a_download_that_fails_after_the_listing_says_what_failed(fault, words, hub_home, tmp_path):
    hub = FakeHub()
    hub.add("org/tiny", {"tiny.safetensors": b"\0" * 1000})
    hub.download_fault = fault
    try:
        result = run_cli(
            "plan",
            "--model",
            "org/tiny",
            "--json",
            "--runs-dir",
            str(tmp_path / "runs"),
            env={**hub_home, "HF_ENDPOINT": hub.url},
            timeout=120,
        )
    finally:
        hub.close()
    one_error(result, words)


@pytest.mark.parametrize(
    ("exc", "words"),
    [
        (OSError(errno.ENETUNREACH, "Network is unreachable"), "no route"),
        (OSError(errno.EHOSTUNREACH, "No route to host"), "no route"),
        (socket.gaierror(-2, "Name or service not known"), "could not be resolved"),
        (ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"), "refused"),
        (TimeoutError("timed out"), "did not answer in time"),
        (ssl.SSLCertVerificationError("certificate verify failed"), "TLS"),
        (ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"), "broke"),
    ],
)
def test_each_failure_is_named(exc, words):
    """Failures a local server cannot stage (no route) named from the exception itself, also
    when a client library wraps it."""
    wrapper = RuntimeError("client error")
    wrapper.__cause__ = exc
    assert network.is_network_failure(exc)
    assert words in network.describe(exc, "https://huggingface.co")[0]
    assert words in network.describe(wrapper, "https://huggingface.co")[0]
    assert not network.is_network_failure(ValueError("a bug, not the network"))
