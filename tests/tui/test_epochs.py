from __future__ import annotations

import pytest

from stylora_tui.tui.app import StyloraApp
from tests.conftest import run_with_samples
from tests.tui.conftest import text_of, wait_until

pytestmark = pytest.mark.asyncio


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
        # No manifest here, so no copy alarm or style score: the lowest loss is suggested (◀).
        assert labels == ["epoch 1 0.3100", "epoch 2 0.2700★ ◀"]
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


async def test_epochs_mark_copies_and_the_suggestion_with_why(services, monkeypatch, tmp_path):
    from tests.choose.judged_runs import Epoch, judged_run, write_dataset
    from tests.style_fixture import write_stand_in

    pytest.importorskip("onnxruntime")
    monkeypatch.setenv("STYLORA_IMAGES", "halfcell")
    model = write_stand_in(tmp_path / "csd.onnx")
    dataset = write_dataset(tmp_path / "data", count=6)
    epochs = [Epoch(1, 0.2), Epoch(2, 0.99), Epoch(3, 1.0, copy_of=3)]
    run = judged_run(services.runs_root, "judged", dataset, epochs, str(model))
    app = StyloraApp(services, monitor=run)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.3)
        await pilot.press("e")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "EpochsScreen")
        await wait_until(pilot, lambda: app.screen.query_one("#epochs").option_count == 3, tries=400)
        options = app.screen.query_one("#epochs")
        labels = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert labels == ["epoch 1", "epoch 2 ◀", "epoch 3 ⚠"]
        assert options.highlighted == 1, "the suggested epoch is highlighted first"
        assert "suggested ◀ e2: style" in text_of(app, "#chosen")
        assert "style " in text_of(app, "#prompt") and "suggested" in text_of(app, "#prompt")
        first_line = text_of(app, "#prompt").split("\n")[0]
        assert "suggested" in first_line and "\\x0a" not in text_of(app, "#prompt"), "details, then the prompts below"
        await pilot.press("down")
        await pilot.pause(0.1)
        assert "copies 03.png" in text_of(app, "#prompt")
