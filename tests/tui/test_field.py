"""Keys that arrive together are applied in order: a burst of backspaces and digits, as a
terminal over SSH delivers it, edits a field as typing them one by one would."""

from __future__ import annotations

import pytest
from textual import events
from textual.app import App

from stylora_tui.tui.widgets.field import Field

pytestmark = pytest.mark.asyncio


class OneField(App):
    def compose(self):
        yield Field("[1024, 1536]", id="f")


async def test_a_burst_of_backspaces_then_digits_keeps_its_order():
    app = OneField()
    async with app.run_test() as pilot:
        await pilot.press("end")
        field = app.query_one(Field)
        burst = [("backspace", "\x7f")] * 14 + [(c, c) for c in "1024"] + [("left", None), ("backspace", "\x7f"), ("9", "9")]
        for key, character in burst:  # posted at once, like one read of the terminal
            app.post_message(events.Key(key, character))
        await pilot.pause(0.3)
        assert field.value == "1094"
