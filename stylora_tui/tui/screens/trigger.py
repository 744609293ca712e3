"""Step 3: the trigger word, checked against both CLIP tokenizers as you type."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.timer import Timer
from textual.widgets import Input, Label, Static
from textual.worker import get_current_worker

from stylora_tui.config.families import FAMILIES, get_family
from stylora_tui.dataset.captions import training_caption
from stylora_tui.dataset.tokens import caption_budgets, check_trigger
from stylora_tui.display import printable
from stylora_tui.tui.palette import theme_palette
from stylora_tui.tui.screens.step import WizardStepScreen
from stylora_tui.tui.widgets.field import Field

DEBOUNCE_S = 0.15


class TriggerScreen(WizardStepScreen):
    STEP = "trigger"

    def compose_body(self) -> ComposeResult:
        yield Label("Trigger word: one made-up word the model does not know, first in every caption")
        yield Field(self.wizard.trigger, placeholder="katsushikahokusaistyle", id="trigger")
        yield Static("loading the CLIP tokenizer...", id="tokens")
        yield Static("", id="verdict")
        yield Static("", id="preview", classes="help")
        yield Static("", id="budget", classes="help")

    def on_mount(self) -> None:
        self.tokenizer_pair: tuple | None = None
        self.last_report = None
        self.pending: Timer | None = None
        self.palette = theme_palette(self.app)
        self.query_one("#trigger", Input).focus()
        self.load_tokenizers()

    @work(thread=True, exclusive=True, group="tokenizer", exit_on_error=False)
    def load_tokenizers(self) -> None:
        pair = self.tokenizers()
        self.app.call_from_thread(self.tokenizers_loaded, pair)

    def tokenizers_loaded(self, pair) -> None:
        self.tokenizer_pair = pair
        self.refresh_check(self.query_one("#trigger", Input).value)

    @on(Input.Changed, "#trigger")
    def changed(self, event: Input.Changed) -> None:
        # Debounced: typing stays smooth however many captions there are; the check runs
        # in a worker once the keys pause.
        if self.pending is not None:
            self.pending.stop()
        self.pending = self.set_timer(DEBOUNCE_S, lambda: self.refresh_check(event.value))

    def captions(self) -> list[str]:
        report = self.report
        if report is None:
            return []
        return [i.caption.text for i in report.scan.usable if i.caption is not None]

    def refresh_check(self, word: str) -> None:
        if self.tokenizer_pair is None:
            return
        self.check(word, self.captions(), self.wizard.config(), self.wizard.family)

    @work(thread=True, exclusive=True, group="trigger-check", exit_on_error=False)
    def check(self, word: str, captions: list[str], config, family_name: str) -> None:
        pair = self.tokenizer_pair
        if pair is None:
            return
        first, second = pair
        report = check_trigger(word, first, get_family(family_name), FAMILIES, captions or None)
        second_pieces = second.encode(word.strip()).pieces if word.strip() else ()
        tokens = Text()
        tokens.append(f"CLIP ViT-L ({len(report.tokens.ids)}): ", style="bold")
        tokens.append(printable(" ".join(f"{p}·{i}" for p, i in zip(report.tokens.pieces, report.tokens.ids))) + "\n")
        tokens.append(f"OpenCLIP bigG ({len(second_pieces)}): ", style="bold")
        tokens.append(printable(" ".join(second_pieces)))
        verdict = Text()
        colour = {"ok": self.palette.success, "warn": self.palette.warning, "error": self.palette.error}[report.verdict]
        verdict.append(f"{report.verdict.upper()}\n", style=f"bold {colour}")
        for finding in report.findings:
            verdict.append(f"{finding.severity.value}: {printable(finding.message)}\n")
            verdict.append(f"  {printable(finding.hint)}\n", style=self.palette.muted)
        if report.suggestions:
            verdict.append("try: " + ", ".join(report.suggestions), style=self.palette.accent)
        preview, budget = self.preview(word.strip(), captions, config)
        if get_current_worker().is_cancelled:
            return
        self.app.call_from_thread(self.show_check, report, tokens, verdict, preview, budget)

    def show_check(self, report, tokens, verdict, preview, budget) -> None:
        self.last_report = report
        self.query_one("#tokens", Static).update(tokens)
        self.query_one("#verdict", Static).update(verdict)
        self.query_one("#preview", Static).update(preview)
        self.query_one("#budget", Static).update(budget)

    def preview(self, trigger: str, captions: list[str], config) -> tuple[Text | str, str]:
        if not captions:
            return "", ""
        quality, caps = config.quality_tags, config.captions
        arranged = training_caption(
            captions[0],
            trigger=trigger,
            quality_tags=quality,
            keep_tokens=caps.keep_tokens,
            keep_tokens_separator=caps.keep_tokens_separator,
        )
        preview = Text("A caption as trained: ", style="bold")
        preview.append(printable(", ".join(arranged.pinned)), style=f"bold {self.palette.success}")
        if arranged.shuffled:
            preview.append(" | " + printable(", ".join(arranged.shuffled)))
        preview.append(
            "\n  in colour: pinned by keep tokens (never shuffled); the rest is shuffled every step", style=self.palette.muted
        )
        first = self.tokenizer_pair[0] if self.tokenizer_pair else None
        if first is None:
            return preview, ""
        arranged_all = [
            (
                str(i),
                training_caption(
                    text,
                    trigger=trigger,
                    quality_tags=quality,
                    keep_tokens=caps.keep_tokens,
                    keep_tokens_separator=caps.keep_tokens_separator,
                ).tags,
            )
            for i, text in enumerate(captions)
        ]
        long = [b for b in caption_budgets(arranged_all, first, caps.max_token_length) if b.too_long]
        budget = f"captions cut at {caps.max_token_length} tokens: {len(long)} of {len(captions)}"
        if long:
            budget += f" (e.g. loses {printable(', '.join(long[0].lost_tags[:4]))})"
        return preview, budget

    def keep(self) -> None:
        self.change_wizard(trigger=self.query_one("#trigger", Input).value.strip())

    def ready(self) -> str:
        if self.tokenizer_pair is None:
            return "the tokenizer is still loading"
        word = self.query_one("#trigger", Input).value
        report = self.last_report
        if report is None or report.trigger != word:
            # Leaving before the debounced check ran: judge the word as typed now.
            report = check_trigger(
                word, self.tokenizer_pair[0], get_family(self.wizard.family), FAMILIES, self.captions() or None, suggest=False
            )
        if report.verdict == "error":
            return "the trigger has an error: " + next(f.message for f in report.findings if f.severity.value == "error")
        return ""
