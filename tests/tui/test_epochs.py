from __future__ import annotations

import json

import pytest
from PIL import Image

from stylora_tui.run.layout import create_run
from stylora_tui.tui.app import StyloraApp
from tests.tui.test_wizard import text_of, wait_until

pytestmark = pytest.mark.asyncio


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
        (folder / "prompts.json").write_text(json.dumps({"epoch": epoch, "step": epoch * 10, "prompts": ["a", "b"], "images": ["01.png", "02.png"]}))
        (run.output / f"run-01-e{epoch:04d}.safetensors").write_bytes(f"epoch {epoch}".encode())
        events.append({"v": 1, "ts": 1.0, "type": "validation.loss", "epoch": epoch, "loss": loss})
    run.events.write_text("".join(json.dumps(e) + "\n" for e in events))
    return run


async def test_epochs_show_validation_and_choose_copies_the_adapter(services, monkeypatch):
    monkeypatch.setenv("STYLORA_IMAGES", "halfcell")
    run = run_with_samples(services.runs_root)
    app = StyloraApp(services, monitor=run)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.3)
        await pilot.press("e")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "EpochsScreen")
        await wait_until(pilot, lambda: app.screen.query_one("#epochs").option_count == 2)
        options = app.screen.query_one("#epochs")
        labels = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert labels == ["epoch 1  0.3100", "epoch 2  0.2700 ★"]
        assert len(app.screen.query("#pictures > *")) == 2
        await pilot.press("up")
        await pilot.press("b")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ConfirmDialog")
        best = run.output / "run-01-best.safetensors"
        assert not best.exists(), "b asks before it copies"
        await pilot.press("y")
        await pilot.pause(0.1)
        assert best.read_bytes() == b"epoch 1"
        assert "epoch 1" in text_of(app, "#chosen")
        await pilot.press("escape")
        assert type(app.screen).__name__ == "MonitorScreen"
