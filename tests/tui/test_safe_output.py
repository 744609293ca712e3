"""The last line of defence: whatever a widget was given, no control character of it
reaches the terminal, and every line keeps its width."""

from __future__ import annotations

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.color import Color

from stylora_tui.tui.safe_output import PrintableOnly


def test_controls_and_bidi_overrides_are_dropped_and_widths_kept():
    line = [
        Segment("GPU ", Style(bold=True)),
        Segment("H100\x1b]52;c;eA==\x07\u202eevil\x1b[2J", None),
        Segment("\x1b[?25l", None, [(1,)]),
    ]
    out = PrintableOnly().apply(line, Color(0, 0, 0))
    assert [s.text for s in out[:2]] == ["GPU ", "H100]52;c;eA==evil[2J"]
    assert out[2].text == "\x1b[?25l"  # a control segment (the cursor) is the terminal's own business
    assert sum(cell_len(s.text) for s in out[:2]) == sum(cell_len(s.text) for s in line[:2])
    assert out[0].style == Style(bold=True)
