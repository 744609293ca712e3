"""Step 3: the trigger word, checked against both CLIP tokenizers as you type."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.widgets import Input, Label, Static

from stylora_tui.core.captions import training_caption
from stylora_tui.core.families import FAMILIES, get_family
from stylora_tui.core.tokens import caption_budgets, check_trigger
from stylora_tui.tui.screens.step import WizardStepScreen

VERDICT_STYLE = {"ok": "bold green", "warn": "bold yellow", "error": "bold red"}


class TriggerScreen(WizardStepScreen):
    STEP = "trigger"

    def compose_body(self) -> ComposeResult:
        yield Label("Trigger word: one made-up word the model does not know, first in every caption")
        yield Input(self.wizard.trigger, placeholder="katsushikahokusaistyle", id="trigger")
        yield Static("loading the CLIP tokenizer...", id="tokens")
        yield Static("", id="verdict")
        yield Static("", id="preview", classes="help")
        yield Static("", id="budget", classes="help")

    def on_mount(self) -> None:
        self.tokenizer_pair = None
        self.last_report = None
        self.query_one("#trigger", Input).focus()
        self.load_tokenizers()

    @work(thread=True, exclusive=True, group="tokenizer")
    def load_tokenizers(self) -> None:
        pair = self.app.tokenizers()
        self.app.call_from_thread(self.tokenizers_loaded, pair)

    def tokenizers_loaded(self, pair) -> None:
        self.tokenizer_pair = pair
        self.refresh_check(self.query_one("#trigger", Input).value)

    @on(Input.Changed, "#trigger")
    def changed(self, event: Input.Changed) -> None:
        self.refresh_check(event.value)

    def captions(self) -> list[str]:
        report = self.app.report
        if report is None:
            return []
        return [i.caption.text for i in report.scan.usable if i.caption is not None]

    def refresh_check(self, word: str) -> None:
        if self.tokenizer_pair is None:
            return
        first, second = self.tokenizer_pair
        family = get_family(self.wizard.family)
        report = check_trigger(word, first, family, FAMILIES, self.captions() or None)
        self.last_report = report
        second_pieces = second.encode(word.strip()).pieces if word.strip() else ()
        tokens = Text()
        tokens.append(f"CLIP ViT-L ({len(report.tokens.ids)}): ", style="bold")
        tokens.append(" ".join(f"{p}·{i}" for p, i in zip(report.tokens.pieces, report.tokens.ids)) + "\n")
        tokens.append(f"OpenCLIP bigG ({len(second_pieces)}): ", style="bold")
        tokens.append(" ".join(second_pieces))
        self.query_one("#tokens", Static).update(tokens)
        verdict = Text()
        verdict.append(f"{report.verdict.upper()}\n", style=VERDICT_STYLE[report.verdict])
        for finding in report.findings:
            verdict.append(f"{finding.severity.value}: {finding.message}\n")
            verdict.append(f"  {finding.hint}\n", style="dim")
        if report.suggestions:
            verdict.append("try: " + ", ".join(report.suggestions), style="cyan")
        self.query_one("#verdict", Static).update(verdict)
        self.show_preview(word.strip())

    def show_preview(self, trigger: str) -> None:
        captions = self.captions()
        config = self.wizard.config()
        quality = config.quality_tags
        if not captions:
            self.query_one("#preview", Static).update("")
            return
        arranged = training_caption(captions[0], trigger=trigger, quality_tags=quality,
                                    keep_tokens=config.captions.keep_tokens, keep_tokens_separator=config.captions.keep_tokens_separator)
        preview = Text("A caption as trained: ", style="bold")
        preview.append(", ".join(arranged.pinned), style="bold green")
        if arranged.shuffled:
            preview.append(" | " + ", ".join(arranged.shuffled))
        preview.append("\n  green = pinned by keep tokens (never shuffled); the rest is shuffled every step", style="dim")
        self.query_one("#preview", Static).update(preview)
        first, _ = self.tokenizer_pair
        arranged_all = [
            (str(i), training_caption(text, trigger=trigger, quality_tags=quality, keep_tokens=config.captions.keep_tokens).tags)
            for i, text in enumerate(captions)
        ]
        long = [b for b in caption_budgets(arranged_all, first, config.captions.max_token_length) if b.too_long]
        budget = f"captions cut at {config.captions.max_token_length} tokens: {len(long)} of {len(captions)}"
        if long:
            budget += f" (e.g. loses {', '.join(long[0].lost_tags[:4])})"
        self.query_one("#budget", Static).update(budget)

    def keep(self) -> None:
        self.app.update_wizard(trigger=self.query_one("#trigger", Input).value.strip())

    def ready(self) -> str:
        if self.last_report is None:
            return "the tokenizer is still loading"
        if self.last_report.verdict == "error":
            return "the trigger has an error: " + next(f.message for f in self.last_report.findings if f.severity.value == "error")
        return ""
