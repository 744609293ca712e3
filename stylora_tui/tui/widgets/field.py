"""A text field whose editing keys keep their order in a burst of keys.

Textual's Input inserts a typed character in its own key handler but runs its editing
keys (backspace, delete, arrows, home/end, ctrl+u...) as bindings, which are looked up
only after the key has bubbled past the widget. Keys that arrive together (fast typing, a
terminal that batches input over SSH) are then applied out of order: backspace x14 then
"1024" in a field holding "[1024, 1536]" inserted the digits first and deleted them
afterwards, leaving "[". Here the editing keys run in the key handler too, in arrival order.

The cursor does not blink: over SSH each blink is a redraw sent twice a second, for as long
as the wizard stays open.
"""

from __future__ import annotations

from textual import events
from textual.binding import Binding
from textual.widgets import Input


def _editing_keys() -> dict[str, str]:
    keys = {}
    for binding in Input.BINDINGS:
        if isinstance(binding, Binding):
            for key in binding.key.split(","):
                keys[key.strip()] = binding.action
    return keys


EDITING_KEYS = _editing_keys()


class Field(Input):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.cursor_blink = False

    async def _on_key(self, event: events.Key) -> None:
        action = EDITING_KEYS.get(event.key)
        if action is not None and not event.is_printable:
            event.stop()
            event.prevent_default()
            await self.run_action(action)
            return
        await super()._on_key(event)
