"""The suggested epoch and strength, with one line that says why.

The practice: "the last epoch is not always the best; use a suitable epoch, or use it at a
lower strength", and too many repeats make an adapter want to output the training images.
So, among the preview sets rendered from saved adapters:

- a set whose previews copy a training image is never suggested;
- nor an epoch past the point where the validation loss turns up (its lowest value, when a
  later epoch rises more than TURN_UP above it);
- with style scores: the earliest epoch within MARGIN of the best score of all (copies
  included: the best is what the style can reach), and at that epoch the highest strength
  still within it; when none is within it, the best score left;
- without them (offline, or no style model): the lowest validation loss left, else the
  latest epoch left.

Scores rank epochs of one dataset; they are never an absolute quality.
"""

from __future__ import annotations

from pathlib import Path

from stylora_tui.choose.judge import Judged
from stylora_tui.run.suggestion import Suggestion

MARGIN = 0.01  # of cosine similarity: closer than this is the same style to the eye
TURN_UP = 0.02  # relative rise of the validation loss over its lowest value


def suggest(judged: list[Judged]) -> Suggestion | None:
    candidates = [j for j in judged if j.adapter is not None]
    if not candidates:
        return None
    several_runs = len({j.run for j in candidates}) > 1
    limits = {run: turn_up(candidates, run) for run in {j.run for j in candidates}}
    allowed = [j for j in candidates if not j.copies and j.epoch <= (limits[j.run] or j.epoch)]
    scored = [j for j in candidates if j.style_score is not None]
    notes = [_copy_note(candidates, scored, several_runs)] + _limit_notes(limits, several_runs)
    if scored:
        return _by_style(allowed, scored, notes, several_runs)
    return _without_style(allowed, candidates, notes, several_runs)


def turn_up(judged: list[Judged], run: str) -> int | None:
    """The epoch after which the run's validation loss turns up; None when it does not."""
    losses = sorted({(j.epoch, j.samples.validation_loss) for j in judged if j.run == run and j.samples.validation_loss})
    if not losses:
        return None
    lowest_epoch, lowest = min(losses, key=lambda pair: (pair[1], pair[0]))
    rises = any(epoch > lowest_epoch and loss > lowest * (1 + TURN_UP) for epoch, loss in losses)
    return lowest_epoch if rises else None


def _by_style(allowed: list[Judged], scored: list[Judged], notes: list[str], several_runs: bool) -> Suggestion | None:
    best = max(scored, key=lambda j: (j.style_score, -j.epoch, j.strength))
    best_score = best.style_score or 0.0
    pool = [j for j in allowed if j.style_score is not None and j.style_score >= best_score - MARGIN]
    if pool:
        earliest = min(j.epoch for j in pool)
        chosen = max((j for j in pool if j.epoch == earliest), key=lambda j: (j.strength, j.style_score or 0.0))
    else:
        left = [j for j in allowed if j.style_score is not None]
        if not left:
            return None
        chosen = max(left, key=lambda j: (j.style_score or 0.0, -j.epoch))
        notes.insert(0, f"none within {MARGIN:g} of the best")
    head = f"{_name(chosen, several_runs)}: style {chosen.style_score:.3f}"
    if chosen is not best:
        head += f" (best {best_score:.3f} at {_name(best, several_runs)})"
    else:
        head += " (the best)"
    return _suggestion(chosen, [head, *notes])


def _without_style(allowed: list[Judged], candidates: list[Judged], notes: list[str], several_runs: bool) -> Suggestion | None:
    if not allowed:
        return None
    reason = next((j.style_unavailable for j in candidates if j.style_unavailable), None) or "no style score"
    with_loss = [j for j in allowed if j.samples.validation_loss is not None]
    if with_loss:
        chosen = min(with_loss, key=lambda j: (j.samples.validation_loss or 0.0, j.epoch, -j.strength))
        head = f"{_name(chosen, several_runs)}: lowest validation loss {chosen.samples.validation_loss:.4f}"
    else:
        chosen = max(allowed, key=lambda j: (j.epoch, j.strength))
        head = f"{_name(chosen, several_runs)}: the latest epoch"
    return _suggestion(chosen, [head, *notes, f"no style score ({reason})"])


def _copy_note(candidates: list[Judged], scored: list[Judged], several_runs: bool) -> str:
    """The best-scoring (else the latest) copying set, and the strength where copying stops."""
    copying = [j for j in candidates if j.copies]
    if not copying:
        return ""
    worst = max(copying, key=lambda j: (j.style_score or 0.0, j.epoch) if scored else (j.epoch, 0.0))
    note = (
        f"{_name(worst, several_runs, strength=False)} copies {Path(worst.copies[0].training_image).name} at {worst.strength:g}"
    )
    lower = [
        j for j in candidates if j.run == worst.run and j.epoch == worst.epoch and j.strength < worst.strength and not j.copies
    ]
    if lower:
        note += f", not at {max(j.strength for j in lower):g}"
    more = len({(j.run, j.epoch) for j in copying}) - 1
    return note + (f" ({more} more epoch{'s' if more > 1 else ''} copy)" if more else "")


def _limit_notes(limits: dict[str, int | None], several_runs: bool) -> list[str]:
    return [
        f"{run + ' ' if several_runs else ''}validation loss turns up after e{epoch}"
        for run, epoch in sorted(limits.items())
        if epoch is not None
    ]


def _name(judged: Judged, several_runs: bool, strength: bool = True) -> str:
    name = f"{judged.run} e{judged.epoch}" if several_runs else f"e{judged.epoch}"
    if strength and judged.strength != 1.0:
        name += f" at {judged.strength:g}"
    return name


def _suggestion(chosen: Judged, parts: list[str]) -> Suggestion:
    return Suggestion(chosen.run, chosen.epoch, chosen.strength, chosen.adapter or "", "; ".join(p for p in parts if p))
