"""The end-of-run webhook: each service gets its own format, and nothing ever raises."""

from __future__ import annotations

import json
import socket

import pytest

from stylora_tui.config.build import build_config
from stylora_tui.errors import ConfigError
from stylora_tui.integrations import notify

ENDED = notify.RunEnded("run-07", "finished", 4500, 4500, 5025.4, "/root/runs/run-07/output/run-07.safetensors")


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://ntfy.sh/my-runs", "ntfy"),
        ("https://ntfy.example.org/runs", "ntfy"),
        ("https://discord.com/api/webhooks/1/abc", "discord"),
        ("https://hooks.slack.com/services/T/B/X", "slack"),
        ("https://example.org/hook", "json"),
    ],
)
def test_the_format_follows_the_url(url, kind):
    assert notify.kind_of(url) == kind
    assert notify.kind_of(url, "slack") == "slack"  # a chosen kind wins


def test_each_format_carries_run_status_duration_and_output(webhook):
    for kind in ("ntfy", "discord", "slack", "json"):
        assert notify.send(webhook.url(f"/{kind}"), kind, ENDED) == ""
    ntfy, discord, slack, generic = webhook.received
    assert ntfy["headers"]["Title"] == "run-07 finished" and ntfy["headers"]["Tags"] == "white_check_mark"
    text = ntfy["body"].decode()
    assert "run-07 finished at step 4500/4500 after 1 h 23 min" in text and "run-07/output/run-07.safetensors" in text
    assert json.loads(discord["body"]) == {"content": text, "username": "stylora-tui"}
    assert json.loads(slack["body"]) == {"text": text}
    data = json.loads(generic["body"])
    assert (data["run"], data["status"], data["duration_s"], data["output"]) == ("run-07", "finished", 5025.4, ENDED.output)
    assert data["text"] == text and generic["headers"]["Content-Type"] == "application/json"


def test_a_failed_run_says_why_and_is_urgent_on_ntfy(webhook):
    failed = notify.RunEnded("run-08", "failed", 12, 900, 61, "/runs/run-08", "CUDA out of memory", "lower training.batch_size")
    assert notify.send(webhook.url(), "ntfy", failed) == ""
    sent = webhook.received[0]
    assert sent["headers"]["Priority"] == "high" and sent["headers"]["Tags"] == "x"
    assert "reason: CUDA out of memory\nhint: lower training.batch_size" in sent["body"].decode()


def test_a_broken_or_absent_webhook_is_reported_not_raised(webhook):
    webhook.status = 500
    assert notify.send(webhook.url(), "json", ENDED) == "the webhook answered HTTP 500 Internal Server Error"
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/hook"
    assert notify.send(closed, "json", ENDED).startswith("could not reach the webhook")


def test_a_silent_webhook_does_not_hold_the_trainer():
    with socket.socket() as server:  # accepts, never answers
        server.bind(("127.0.0.1", 0))
        server.listen()
        problem = notify.send(f"http://127.0.0.1:{server.getsockname()[1]}/", "json", ENDED, timeout=0.5)
    assert "webhook" in problem


def test_url_from_the_config_else_the_environment(monkeypatch):
    monkeypatch.setenv(notify.ENV_URL, "https://ntfy.sh/from-env")
    assert notify.resolve_url("") == "https://ntfy.sh/from-env"
    assert notify.resolve_url("https://ntfy.sh/from-config") == "https://ntfy.sh/from-config"
    monkeypatch.delenv(notify.ENV_URL)
    assert notify.resolve_url("") == ""


def test_a_url_that_cannot_work_is_refused_with_an_example():
    with pytest.raises(ConfigError) as info:
        build_config({"notify": {"url": "ntfy.sh/my-runs"}})
    assert info.value.problems[0].code == "config-type" and "https://" in info.value.hint
    with pytest.raises(ConfigError):
        build_config({"notify": {"kind": "teams"}})


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1",
        "file:///etc/passwd",
        "ftp://example.org/x",
        "ntfy.sh/topic",
        "http://",
        "http://example.org:99999/",
        "https://exa mple.org/",
    ],
)
def test_only_http_addresses_are_ever_posted_to(url, monkeypatch):
    problem = notify.send(url, "json", ENDED)
    assert problem.startswith("the webhook address") and url in problem
    monkeypatch.setenv(notify.ENV_URL, url)
    assert f"${notify.ENV_URL}" in notify.url_problem("")
    with pytest.raises(ConfigError):
        build_config({"notify": {"url": url}})


def test_a_garbage_answer_is_said_as_such():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def answer():
        connection, _ = server.accept()
        connection.recv(65536)
        connection.sendall(b"\x00\x01 this is not HTTP\r\n\r\n")
        connection.close()

    import threading

    threading.Thread(target=answer, daemon=True).start()
    problem = notify.send(f"http://127.0.0.1:{server.getsockname()[1]}/hook", "json", ENDED, timeout=5)
    server.close()
    assert "not valid HTTP" in problem and "no answer" not in problem


def test_plan_and_train_refuse_a_bad_address_from_the_environment(tmp_path):
    from tests.conftest import run_cli

    for command in ("plan", "train"):
        result = run_cli(command, "--model", "demo", "--runs-dir", str(tmp_path / "runs"), env={notify.ENV_URL: "http://[::1"})
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
        assert "$STYLORA_NOTIFY_URL" in result.stdout + result.stderr
    config = tmp_path / "bad.toml"
    config.write_text('schema_version = 1\n[notify]\nurl = "http://[::1"\n')
    result = run_cli("plan", "--model", "demo", "--preset", str(config))
    assert result.returncode == 1 and "Traceback" not in result.stderr and "not a valid address" in result.stderr


def test_the_message_says_the_suggestion_the_cost_and_the_way_home():
    from dataclasses import replace

    ended = replace(
        ENDED,
        suggested="run-07-e0012.safetensors at strength 0.8 (e12: style 0.712)",
        cost="$1.40 so far at $1.00/h",
        take_home=("rsync -avP -e 'ssh -p 2222' root@1.2.3.4:/root/runs/run-07/output/ ./run-07/",),
        take_home_note="10.0.0.5 is the address this SSH session reached, not a public one",
    )
    text = ended.text()
    assert "suggested: run-07-e0012.safetensors at strength 0.8" in text
    assert "cost: $1.40 so far at $1.00/h" in text
    assert "take it home:\n  rsync -avP -e 'ssh -p 2222' root@1.2.3.4:" in text
    assert text.endswith("./run-07/\n  note: 10.0.0.5 is the address this SSH session reached, not a public one")
    assert "cost" not in ENDED.text() and "take it home" not in ENDED.text(), "only what is known is said"
