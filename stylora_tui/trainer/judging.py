"""The trainer's part in choosing the adapter: after each save's previews, the copy alarm
and the style score (`epoch.judged`) and the suggestion so far (`adapter.suggested`, and
suggestion.json for `runs`); after the last epoch, the suggested epoch previewed at the
other strengths of samples.suggest_strengths, and a best-scoring epoch that copies tried at
lower strengths until it stops.

Judging never ends a run: a failure is said in the log and training goes on.
"""

from __future__ import annotations

import traceback
from pathlib import Path

from stylora_tui.choose.judge import Judged, RunJudge
from stylora_tui.choose.samples import epoch_samples, output_for_epoch
from stylora_tui.choose.style_model import open_style
from stylora_tui.choose.suggest import suggest
from stylora_tui.config.schema import Config
from stylora_tui.errors import StyloraError
from stylora_tui.integrations import hub
from stylora_tui.run import events as ev
from stylora_tui.run.layout import RunDir
from stylora_tui.run.suggestion import Suggestion, write_suggestion
from stylora_tui.trainer.seams import Reporter


def fetch_saying(reporter: Reporter):
    """hub.fetch, saying every tenth of a download in the log (a 611 MB model on a slow link
    takes minutes: the watchdog and the user see it move)."""
    said = [-10]

    def progress(what: str, done: int, total: int) -> None:
        percent = done * 100 // total if total else 0
        if percent >= said[0] + 10:
            said[0] = percent
            reporter.emit(ev.Log(message=f"style model: {what} {percent} %"))

    return lambda ref: hub.fetch(ref, progress)


def strength_label(epoch: int, strength: float) -> str:
    return f"e{epoch:04d}-at-{strength:g}"


class Judging:
    def __init__(self, run: RunDir, config: Config, reporter: Reporter) -> None:
        self.run, self.config, self.reporter = run, config, reporter
        style = open_style(config.samples.style_model, download=True, fetch=fetch_saying(reporter))
        if style.embedder is not None:
            provider = getattr(style.embedder, "provider", "")
            reporter.emit(ev.Log(message=f"style score: {config.samples.style_model} ({provider})"))
        else:
            reporter.emit(ev.Log(message=f"no style score: {style.unavailable}"))
        self.style = style
        self.last: Suggestion | None = None

    def judge(self, label: str) -> None:
        """Judge the preview set just rendered under `label`, then suggest."""
        try:
            judge = RunJudge(self.run, self.style)
            for samples in epoch_samples(self.run):
                if samples.label == label and samples.images:
                    self.emit(judge.judge(samples))
            judge.cache.save()
            self.suggest(judge)
        except (StyloraError, OSError, ValueError) as exc:
            self.failed(label, exc)
        except Exception as exc:  # a scorer's own error must not end the run either
            traceback.print_exc()
            self.failed(label, exc)

    def suggest(self, judge: RunJudge | None = None) -> list[Judged]:
        judge = judge or RunJudge(self.run, self.style)
        judged = judge.judge_all()
        found = suggest(judged)
        if found is not None and found != self.last:
            self.reporter.emit(
                ev.AdapterSuggested(epoch=found.epoch, strength=found.strength, adapter=found.adapter, why=found.why)
            )
            write_suggestion(self.run, found)
        self.last = found
        return judged

    def emit(self, judged: Judged) -> None:
        self.reporter.emit(
            ev.EpochJudged(
                epoch=judged.epoch,
                label=judged.samples.label,
                strength=judged.strength,
                style_score=judged.style_score,
                style_unavailable=judged.style_unavailable,
                copies=tuple(
                    {"sample": c.sample, "training_image": c.training_image, "similarity": c.similarity} for c in judged.copies
                ),
            )
        )

    def strengths(self, render) -> None:
        """After the last epoch: `render(label, epoch, step, adapter_file, strength)` makes a preview
        set; the suggested epoch at each strength not yet rendered, and a copying best epoch
        lower until it stops copying."""
        strengths = self.config.samples.suggest_strengths
        if not strengths:
            return
        try:
            judged = self.suggest()
            rendered = {(j.epoch, j.strength) for j in judged}
            if self.last is not None:
                for strength in strengths:
                    if (self.last.epoch, strength) not in rendered:
                        self.render_at(render, self.last.epoch, strength)
            self.lower_copying(render, judged, rendered)
            self.suggest()
        except Exception as exc:  # as in judge(): never the end of the run
            traceback.print_exc()
            self.failed("the strengths", exc)

    def lower_copying(self, render, judged: list[Judged], rendered: set[tuple[int, float]]) -> None:
        scored = [j for j in judged if j.style_score is not None and j.adapter is not None]
        if not scored:
            return
        best = max(scored, key=lambda j: (j.style_score or 0.0, -j.epoch))
        if not best.copies:
            return
        for strength in sorted(s for s in self.config.samples.suggest_strengths if s < best.strength)[::-1]:
            if (best.epoch, strength) not in rendered:
                self.render_at(render, best.epoch, strength)
            if not self.copies_at(best.epoch, strength):
                return

    def render_at(self, render, epoch: int, strength: float) -> None:
        label = strength_label(epoch, strength)
        adapter: Path = output_for_epoch(self.run, epoch)
        step = next((s.step for s in epoch_samples(self.run) if s.label == f"e{epoch:04d}"), 0)
        render(label, epoch, step, adapter, strength)
        self.judge(label)

    def copies_at(self, epoch: int, strength: float) -> bool:
        judge = RunJudge(self.run, self.style)
        return any(j.copies for j in judge.judge_all() if j.epoch == epoch and j.strength == strength)

    def failed(self, what: str, exc: BaseException) -> None:
        self.reporter.emit(ev.Log(message=f"judging {what} failed ({type(exc).__name__}: {exc}); training goes on"))
