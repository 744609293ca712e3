"""A run's samples and validation losses, by epoch; the sheet and the chosen epoch.

Pure (Pillow only): `compare` and the TUI read what the trainer wrote into samples/ and
events.jsonl.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from stylora_tui.atomic import replace_with, write_json_atomic
from stylora_tui.errors import RunError
from stylora_tui.run.events import ValidationLoss, read_events
from stylora_tui.run.layout import RunDir
from stylora_tui.run.status import FINISHED, read_status

BEST_FILE = "best.json"  # which epoch the user chose, beside the -best copy
CELL_PX = 256
LABEL_PX = 150
HEADER_PX = 60


@dataclass(frozen=True)
class EpochSamples:
    label: str  # e0010, or s000123 for a sample-now
    epoch: int
    step: int
    prompts: tuple[str, ...]
    images: tuple[Path, ...]
    validation_loss: float | None


def validation_losses(run: RunDir) -> dict[int, float]:
    return {e.epoch: e.loss for e in read_events(run.events) if isinstance(e, ValidationLoss)}


def epoch_samples(run: RunDir) -> list[EpochSamples]:
    losses = validation_losses(run)
    found = []
    for folder in sorted(run.samples.glob("*/prompts.json")):
        try:
            info = json.loads(folder.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        images = tuple(folder.parent / name for name in info.get("images", []) if (folder.parent / name).is_file())
        epoch = int(info.get("epoch", 0))
        found.append(
            EpochSamples(
                folder.parent.name,
                epoch,
                int(info.get("step", 0)),
                tuple(info.get("prompts", [])),
                images,
                losses.get(epoch) if folder.parent.name.startswith("e") else None,
            )
        )
    return sorted(found, key=lambda s: (s.step, s.label))


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


def comparison_sheet(run: RunDir):
    """A grid: one row per epoch (labelled, with its validation loss), one column per prompt."""
    from PIL import Image, ImageDraw

    rows = [s for s in epoch_samples(run) if s.images]
    if not rows:
        raise RunError(
            f"run {run.name!r} has no samples yet", "samples are rendered at each saved epoch (samples.every_n_epochs)"
        )
    columns = max(len(r.images) for r in rows)
    sheet = Image.new("RGB", (LABEL_PX + columns * CELL_PX, HEADER_PX + len(rows) * CELL_PX), "white")
    draw = ImageDraw.Draw(sheet)
    small, big = _font(12), _font(18)
    draw.text((8, 8), run.name, fill="black", font=big)
    for column, prompt in enumerate(rows[-1].prompts[:columns]):
        draw.multiline_text((LABEL_PX + column * CELL_PX + 6, 6), _wrap(prompt, 38, 4), fill="black", font=small)
    best = min((r for r in rows if r.validation_loss is not None), key=lambda r: r.validation_loss or 0.0, default=None)
    for row, samples in enumerate(rows):
        top = HEADER_PX + row * CELL_PX
        title = f"epoch {samples.epoch}" if samples.label.startswith("e") else f"step {samples.step}"
        draw.text((8, top + 8), title, fill="black", font=big)
        draw.text((8, top + 34), f"step {samples.step}", fill="gray", font=small)
        if samples.validation_loss is not None:
            colour = "darkgreen" if samples is best else "black"
            draw.text(
                (8, top + 54),
                f"val loss\n{samples.validation_loss:.4f}" + (" (best)" if samples is best else ""),
                fill=colour,
                font=small,
            )
        for column, path in enumerate(samples.images):
            with Image.open(path) as opened:
                image = opened.convert("RGB")
                # Fit the cell both ways: small demo samples are enlarged, big ones shrunk.
                scale = min((CELL_PX - 4) / image.width, (CELL_PX - 4) / image.height)
                image = image.resize(
                    (max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.Resampling.LANCZOS
                )
                left = LABEL_PX + column * CELL_PX + (CELL_PX - image.width) // 2
                sheet.paste(image, (left, top + (CELL_PX - image.height) // 2))
    return sheet


def output_for_epoch(run: RunDir, epoch: int) -> Path:
    candidates = [run.output / f"{run.name}-e{epoch:04d}.safetensors"]
    status = read_status(run.status_file)
    if status.state == FINISHED and status.epoch == epoch:
        candidates.append(run.output / f"{run.name}.safetensors")
    for path in candidates:
        if path.is_file():
            return path
    saved = ", ".join(run.outputs()) or "none yet"
    raise RunError(f"run {run.name!r} has no adapter saved at epoch {epoch}", f"adapters saved so far: {saved}")


def choose_best(run: RunDir, epoch: int) -> Path:
    """Copy the chosen epoch's adapter to output/<run>-best.safetensors (atomically)."""
    source = output_for_epoch(run, epoch)
    target = run.output / f"{run.name}-best.safetensors"
    replace_with(target, lambda tmp: shutil.copyfile(source, tmp))
    write_json_atomic(run.output / BEST_FILE, {"epoch": epoch, "source": source.name})
    return target


def chosen_epoch(run: RunDir) -> tuple[int, str] | None:
    """(epoch, adapter file) chosen with `compare --best` or the monitor's epochs view; None
    when none was, or the record is damaged."""
    try:
        data = json.loads((run.output / BEST_FILE).read_text(encoding="utf-8"))
        return int(data["epoch"]), str(data["source"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
