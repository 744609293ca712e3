"""Nothing the TUI shows can act on the terminal.

File names, captions, GPU names from events, preset values: any of them can hold escape
sequences (OSC 52 clipboard writes, screen clears, title changes) or bidi overrides. Where
such strings enter (the file browser, the event reader) they are written out visibly
(`\\x1b`); this filter is the one place every displayed line passes, so a string that slips
past them still reaches the terminal without its controls. Control characters and bidi
overrides take no cells, so dropping them keeps every line's width exact.

Graphics (textual-image's sixel) write their escape sequences through their own
render_lines, which line filters do not touch; kitty placeholders are ordinary characters.
"""

from __future__ import annotations

from rich.segment import Segment
from textual.filter import LineFilter

from stylora_tui.display import UNSAFE


class PrintableOnly(LineFilter):
    def apply(self, segments: list[Segment], background) -> list[Segment]:
        return [
            Segment(UNSAFE.sub("", text), style, control)
            if not control and UNSAFE.search(text)
            else Segment(text, style, control)
            for text, style, control in segments
        ]
