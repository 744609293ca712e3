"""A finished or failed run tells the webhook, after its final event; training never waits
on it or fails because of it."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.trainer.conftest import demo_config, events, prepare, trainer

pytestmark = pytest.mark.slow


def test_a_finished_run_posts_its_name_status_duration_and_adapter(tmp_path, dataset, cache_env, webhook):
    config = demo_config(
        dataset, training={"epochs": 1, "max_steps": 2}, samples={"every_n_epochs": 0}, notify={"url": webhook.url("/runs")}
    )
    run = prepare(tmp_path, config, "told")
    assert trainer(run, cache_env).returncode == 0
    [sent] = webhook.received
    data = json.loads(sent["body"])
    assert (data["run"], data["status"], data["step"]) == ("told", "finished", 2)
    assert data["output"] == str(run.output / "told.safetensors") and (run.output / "told.safetensors").is_file()
    assert data["duration_s"] > 0 and data["text"].startswith("stylora-tui: told finished at step 2/")
    assert events(run)[-1]["message"] == "notified the json webhook"


def test_a_failed_run_posts_why_from_the_environments_url(tmp_path, dataset, cache_env, webhook):
    run = prepare(tmp_path, demo_config(dataset, training={"epochs": 1}), "broken")
    shutil.rmtree(dataset)  # the images are gone by the time the trainer starts
    result = trainer(run, {**cache_env, "STYLORA_NOTIFY_URL": webhook.url()})
    assert result.returncode == 1
    data = json.loads(webhook.received[0]["body"])
    assert data["status"] == "failed" and data["reason"] and data["output"] == str(run.path)
    assert [e["type"] for e in events(run)][-2:] == ["run.failed", "log"]


def test_an_unreachable_webhook_leaves_the_run_finished(tmp_path, dataset, cache_env):
    config = demo_config(
        dataset,
        training={"epochs": 1, "max_steps": 1},
        samples={"every_n_epochs": 0},
        notify={"url": "http://127.0.0.1:9/nobody-listens"},
    )
    run = prepare(tmp_path, config, "quiet")
    assert trainer(run, cache_env).returncode == 0
    assert json.loads(run.status_file.read_text())["state"] == "finished"
    assert events(run)[-1]["message"].startswith("notification not sent: could not reach the webhook")
