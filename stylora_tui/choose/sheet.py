"""The comparison sheet: one row per preview set (an epoch, or an epoch at another
strength), labelled with its validation loss, style score and copy alarms; the suggested row
framed. Pillow only."""

from __future__ import annotations

from pathlib import Path

from stylora_tui.choose.judge import Judged
from stylora_tui.errors import RunError
from stylora_tui.run.suggestion import Suggestion

CELL_PX = 256
LABEL_PX = 170
HEADER_PX = 80
FOOTER_PX = 34  # the suggestion and why, across the sheet
FRAME_PX = 4
SUGGESTED, COPYING = (0, 130, 60), (200, 0, 0)


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one fixed-size default font
        return ImageFont.load_default()


def _wrap(text: str, width_chars: int, lines: int) -> str:
    import textwrap

    wrapped = textwrap.wrap(text, width_chars)
    if len(wrapped) > lines:
        wrapped = wrapped[:lines]
        wrapped[-1] = wrapped[-1][: width_chars - 1] + "…"
    return "\n".join(wrapped)


def is_suggested(judged: Judged, suggestion: Suggestion | None) -> bool:
    return suggestion is not None and (judged.run, judged.epoch, judged.strength) == (
        suggestion.run,
        suggestion.epoch,
        suggestion.strength,
    )


def comparison_sheet(title: str, rows: list[Judged], suggestion: Suggestion | None):
    from PIL import Image, ImageDraw

    rows = [r for r in rows if r.samples.images]
    if not rows:
        raise RunError(f"{title} has no samples yet", "samples are rendered at each saved epoch (samples.every_n_epochs)")
    columns = max(len(r.samples.images) for r in rows)
    width = LABEL_PX + columns * CELL_PX
    sheet = Image.new("RGB", (width, HEADER_PX + len(rows) * CELL_PX + FOOTER_PX), "white")
    draw = ImageDraw.Draw(sheet)
    small, big = _font(12), _font(18)
    draw.multiline_text((8, 8), _wrap(title, 16, 3), fill="black", font=big)
    for column, prompt in enumerate(rows[-1].samples.prompts[:columns]):
        draw.multiline_text((LABEL_PX + column * CELL_PX + 6, 6), _wrap(prompt, 38, 5), fill="black", font=small)
    if suggestion is not None:
        line = f"suggested: {suggestion.adapter} at strength {suggestion.strength:g} ({suggestion.why})"
        draw.text((8, sheet.height - FOOTER_PX + 10), _wrap(line, width // 7, 1), fill=SUGGESTED, font=small)
    several_runs = len({r.run for r in rows}) > 1
    for row, judged in enumerate(rows):
        top = HEADER_PX + row * CELL_PX
        _label(draw, judged, top, several_runs, is_suggested(judged, suggestion), small, big)
        for column, path in enumerate(judged.samples.images):
            _paste(sheet, path, LABEL_PX + column * CELL_PX, top)
        if is_suggested(judged, suggestion):
            draw.rectangle((1, top + 1, sheet.width - 2, top + CELL_PX - 2), outline=SUGGESTED, width=FRAME_PX)
    return sheet


def _label(draw, judged: Judged, top: int, several_runs: bool, suggested: bool, small, big) -> None:
    title = f"epoch {judged.epoch}"
    if judged.strength != 1.0:
        title += f" at {judged.strength:g}"
    draw.text((10, top + 8), title, fill="black", font=big)
    lines: list[tuple[str, object]] = [
        (f"{judged.run}, step {judged.samples.step}" if several_runs else f"step {judged.samples.step}", "gray")
    ]
    if judged.samples.validation_loss is not None:
        lines.append((f"val loss {judged.samples.validation_loss:.4f}", "black"))
    if judged.style_score is not None:
        lines.append((f"style {judged.style_score:.3f}", "black"))
    for copy in judged.copies[:3]:
        lines.append((f"copies {Path(copy.training_image).name}"[:26], COPYING))
    if suggested:
        lines.append(("suggested", SUGGESTED))
    for index, (text, colour) in enumerate(lines):
        draw.text((10, top + 34 + index * 18), text, fill=colour, font=small)


def _paste(sheet, path: Path, left: int, top: int) -> None:
    from PIL import Image

    with Image.open(path) as opened:
        image = opened.convert("RGB")
    # Fit the cell both ways: small demo samples are enlarged, big ones shrunk.
    scale = min((CELL_PX - 12) / image.width, (CELL_PX - 12) / image.height)
    image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.Resampling.LANCZOS)
    sheet.paste(image, (left + (CELL_PX - image.width) // 2, top + (CELL_PX - image.height) // 2))
