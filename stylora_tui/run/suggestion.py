"""The suggested adapter of a run (choose/suggest.py decides it): suggestion.json, written by
the trainer after each judged save and by `compare`, read by `runs` and the monitor without
judging anything again."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from stylora_tui.atomic import write_json_atomic
from stylora_tui.display import printable
from stylora_tui.run.layout import RunDir

SUGGESTION_FILE = "suggestion.json"


@dataclass(frozen=True)
class Suggestion:
    run: str
    epoch: int
    strength: float
    adapter: str  # the adapter file's name in the run's output/
    why: str  # one line

    @property
    def short(self) -> str:
        """e12, or e12 at 0.8."""
        return f"e{self.epoch}" + (f" at {self.strength:g}" if self.strength != 1.0 else "")


def write_suggestion(run: RunDir, suggestion: Suggestion) -> None:
    write_json_atomic(run.path / SUGGESTION_FILE, asdict(suggestion))


def clear_suggestion(run: RunDir) -> None:
    """No epoch can be suggested any more (previews replaced, every epoch copies)."""
    (run.path / SUGGESTION_FILE).unlink(missing_ok=True)


def read_suggestion(run: RunDir) -> Suggestion | None:
    """None when there is none yet, or the record is damaged."""
    try:
        data = json.loads((run.path / SUGGESTION_FILE).read_text(encoding="utf-8"))
        return Suggestion(
            printable(str(data["run"])),
            int(data["epoch"]),
            float(data["strength"]),
            printable(str(data["adapter"])),
            printable(str(data["why"])),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
