"""Runs judged together: every preview set of each, the suggestion across them, and the
JSON `compare --json` prints (its field names are a contract)."""

from __future__ import annotations

from dataclasses import dataclass

from stylora_tui.choose.judge import Judged, RunJudge, same_dataset
from stylora_tui.choose.style_model import open_style
from stylora_tui.choose.suggest import suggest
from stylora_tui.config.build import build_config
from stylora_tui.config.toml_io import read_toml_file
from stylora_tui.errors import StyloraError
from stylora_tui.run.layout import RunDir
from stylora_tui.run.suggestion import Suggestion, clear_suggestion, write_suggestion


@dataclass(frozen=True)
class Comparison:
    runs: tuple[RunDir, ...]
    judged: tuple[Judged, ...]
    suggestion: Suggestion | None

    def run(self, name: str) -> RunDir:
        return next(r for r in self.runs if r.name == name)

    def to_json(self) -> dict:
        return {
            "epochs": [self._epoch(j) for j in self.judged],
            "suggested": None
            if self.suggestion is None
            else {
                "run": self.suggestion.run,
                "epoch": self.suggestion.epoch,
                "strength": self.suggestion.strength,
                "why": self.suggestion.why,
                "adapter": str(self.run(self.suggestion.run).output / self.suggestion.adapter),
            },
        }

    def _epoch(self, judged: Judged) -> dict:
        return {
            "run": judged.run,
            "epoch": judged.epoch,
            "strength": judged.strength,
            "adapter": str(self.run(judged.run).output / judged.adapter) if judged.adapter else None,
            "samples": [str(p) for p in judged.samples.images],
            "validation_loss": judged.samples.validation_loss,
            "style_score": judged.style_score,
            "style_unavailable": judged.style_unavailable,
            "copies": [
                {"sample": c.sample, "training_image": c.training_image, "similarity": c.similarity} for c in judged.copies
            ],
            "copies_unavailable": judged.copies_unavailable,
        }


def style_spec(run: RunDir) -> str:
    """The style model the run was configured with (a config from before the key: CSD)."""
    try:
        return build_config(read_toml_file(run.config, "the run's config"), source=str(run.config)).samples.style_model
    except (StyloraError, OSError):
        return build_config().samples.style_model


def compare_runs(runs: list[RunDir], style_model: str | None = None) -> Comparison:
    """`style_model`: fetch and use this one; None: the first run's, if already on this machine."""
    if len(runs) > 1:
        same_dataset(runs)
    style = open_style(style_model if style_model is not None else style_spec(runs[0]), download=style_model is not None)
    judged = [j for run in runs for j in RunJudge(run, style).judge_all()]
    suggestion = suggest(judged)
    if len(runs) == 1:  # a suggestion across runs is not one run's own
        if suggestion is not None:
            write_suggestion(runs[0], suggestion)
        else:
            clear_suggestion(runs[0])
    return Comparison(tuple(runs), tuple(judged), suggestion)
