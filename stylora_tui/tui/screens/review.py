"""Step 5: everything on one screen, then launch the detached trainer."""

from __future__ import annotations

import os
import time

from rich.markup import escape
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Input, Label, Select, Static

from stylora_tui.dataset.doctor import examine, steps_for
from stylora_tui.display import printable, printable_lines
from stylora_tui.errors import PreflightError, StyloraError
from stylora_tui.findings import Severity
from stylora_tui.forecast.batch import batch_line
from stylora_tui.forecast.estimates import summary_lines
from stylora_tui.forecast.size import estimate
from stylora_tui.launch import preflight
from stylora_tui.launch.start import start_run
from stylora_tui.model.files import resolve_prediction
from stylora_tui.rental.meter import machine_price
from stylora_tui.rental.provider import detect
from stylora_tui.run.layout import next_run_name
from stylora_tui.tui.messages import MonitorRequested
from stylora_tui.tui.palette import theme_palette
from stylora_tui.tui.screens.step import WizardStepScreen
from stylora_tui.tui.widgets.field import Field

WHEN_DONE = {
    "nothing": "keep this machine running",
    "stop": "stop this machine (rental)",
    "terminate": "give this machine back (rental)",
}


def when_done(config) -> str:
    """What happens to the machine at the end, and what the run will cost where the price is known."""
    action = config.rental.on_finish
    provider = detect(os.environ, config.rental.command)
    if action == "nothing":
        said = "the machine keeps running (and billing) after the run"
    elif provider is None:
        said = f"{action}: no provider found here; set [rental] command (e.g. sudo shutdown -h now)"
    else:
        said = f"{action} {provider.name} 2 min after the run (k in the monitor keeps it)"
    if config.mirror.to:
        said += f"; mirrored to {config.mirror.to}"
    return said


def precision_label(mixed: str) -> str:
    """`training.mixed_precision` in words: its "no" alone read as a stray word in the summary."""
    return "fp32" if mixed == "no" else f"{mixed} mixed precision"


def saving_label(every: int) -> str:
    """`saving.every_n_epochs` in words, the final adapter included (0 saves only that one)."""
    if every == 0:
        return "the final adapter only"
    return "every epoch" if every == 1 else f"every {every} epochs and the final"


class ReviewScreen(WizardStepScreen):
    STEP = "review"

    def next_label(self) -> str:
        return "Launch ▶ (ctrl+n)"

    def compose_body(self) -> ComposeResult:
        # The name first: at 80x24 the summary runs past the fold, the field must not.
        with Horizontal(classes="row"):
            yield Label("Run name:", classes="field-label")
            yield Field(self.wizard.run_name, placeholder=next_run_name(self.services.runs_root), id="run-name")
        with Horizontal(classes="row"):
            yield Label("When done:", classes="field-label")
            yield Select(
                [(label, value) for value, label in WHEN_DONE.items()],
                value=str(self.wizard.edits.get("rental.on_finish", "nothing")),
                allow_blank=False,
                id="on-finish",
            )
        yield Static("", id="summary")

    def more_below(self) -> str:
        return "the rest of the summary"

    def on_mount(self) -> None:
        self.launching = False
        self.query_one("#summary", Static).update(self.summary())
        if self.report is not None:
            self.rejudge()

    @work(thread=True, exclusive=True, group="rejudge", exit_on_error=False)
    def rejudge(self) -> None:
        """The dataset as the current settings see it: the trigger may have changed since
        the dataset step (a caption without the new trigger is `trigger-missing`)."""
        try:
            config = self.wizard.config()
        except StyloraError:
            return
        if self.report is None:
            return
        tokenizer, _ = self.tokenizers()
        report = examine(self.report.scan, config, tokenizer)
        self.app.call_from_thread(self.rejudged, report)

    def rejudged(self, report) -> None:
        self.set_report(report)
        self.query_one("#summary", Static).update(self.summary())

    def summary(self):
        try:
            config = self.wizard.config()
        except StyloraError as exc:
            return Text(printable_lines(exc.message), style=theme_palette(self.app).error)
        report = self.report
        # Counted here from the settings of now, never taken from a report judged earlier.
        steps = steps_for(report.scan, config) if report is not None else None
        total_steps = steps.total_steps if steps is not None else None
        palette = theme_palette(self.app)
        table = Table.grid(padding=(0, 1))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        net, opt, tr = config.network, config.optimizer, config.training
        # The user's own strings (paths, trigger) as plain text: "[" in a folder name is not markup.
        table.add_row("model", Text(printable(f"{config.model.path} ({config.model.family})")))
        try:
            prediction = resolve_prediction(config.model.path, config.model.prediction_type, config.training.zero_terminal_snr)
            table.add_row("predicts", Text(printable(prediction.label)))
        except StyloraError as exc:
            table.add_row("predicts", Text(printable(exc.message), style=palette.error))
        if steps is not None:
            table.add_row(
                "dataset",
                Text(printable(f"{config.dataset.path}: {len(report.scan.usable)} images, {len(steps.buckets)} bucket(s)")),
            )
            table.add_row("steps", f"{steps.steps_per_epoch}/epoch x {steps.epochs} epochs = {steps.total_steps}")
        table.add_row(
            "trigger",
            Text(printable(config.captions.trigger + (f" + {', '.join(config.quality_tags)}" if config.quality_tags else ""))),
        )
        table.add_row(
            "network",
            f"{net.algo} {net.preset}, dim {net.dim}/alpha {net.alpha:g}, conv {net.conv_dim}/{net.conv_alpha:g}, TEs {'on' if net.train_text_encoders else 'off'}",
        )
        table.add_row(
            "optimizer",
            f"{opt.name} lr {opt.unet_lr:g} (TE {opt.text_encoder_lr:g}), {config.scheduler.name}, wd {opt.weight_decay:g}",
        )
        table.add_row(
            "training",
            f"{tr.epochs} epochs x {config.dataset.repeats} repeats, batch {tr.batch_size}, {config.resolution[0]}x{config.resolution[1]}, {precision_label(tr.mixed_precision)}",
        )
        table.add_row("saving", f"{saving_label(config.saving.every_n_epochs)} at {config.saving.precision}")
        if config.dataset.random_crop:
            table.add_row("latents", "random_crop: every image is cropped and VAE-encoded again at every step (slower, no cache)")
        size = estimate(config)
        table.add_row(
            "output",
            f"{size.modules} modules, {size.trainable_params / 1e6:.1f} M parameters, about {size.output_bytes / 2**20:.0f} MiB per file",
        )
        if report is not None:
            warnings = sorted({f.code for f in report.findings if f.severity is Severity.WARNING})
            table.add_row("warnings", ", ".join(warnings) if warnings else "none")
        price = machine_price(config.rental.price_per_hour)
        for line in summary_lines(config, total_steps, self.machine(), most_cards=3, price_per_hour=price):
            label, _, text = line.partition(": ")
            table.add_row(label, escape(text))
        table.add_row("batch", escape(batch_line(config, steps, self.machine()).partition(": ")[2]))
        table.add_row("when done", Text(printable(when_done(config))))
        problems = preflight.check(config, self.machine(), total_steps)
        for problem in problems:
            colour = palette.warning if problem.code == "cpu-training" else palette.error
            table.add_row("pre-flight", Text.assemble((printable(problem.message), colour), f" ({printable(problem.hint)})"))
        return table

    def keep(self) -> None:
        self.change_wizard(run_name=self.query_one("#run-name", Input).value.strip())

    @on(Select.Changed, "#on-finish")
    def on_finish_chosen(self, event: Select.Changed) -> None:
        edits = {**self.wizard.edits, "rental.on_finish": str(event.value)}
        if edits["rental.on_finish"] == "nothing":
            edits.pop("rental.on_finish")
        self.change_wizard(edits=edits)
        self.query_one("#summary", Static).update(self.summary())

    @on(Input.Submitted, "#run-name")
    def name_entered(self) -> None:
        """Enter after typing the name launches, as the Launch button does."""
        self.action_next()

    def finish(self, allow_cpu: bool = False) -> None:
        if self.launching:
            return
        self.launching = True
        self.show_error("checking and launching...")
        self.launch(allow_cpu)

    @work(thread=True, exclusive=True, group="launch", exit_on_error=False)
    def launch(self, allow_cpu: bool) -> None:
        try:
            tokenizer, _ = self.tokenizers()
            started = start_run(
                self.wizard.config(),
                self.services.runs_root,
                self.wizard.run_name or None,
                tokenizer,
                machine=self.services.machine(),
                allow_cpu=allow_cpu,
                launcher=self.services.launcher,
            )
        except PreflightError as exc:
            if {p.code for p in exc.problems} == {"cpu-training"}:
                self.app.call_from_thread(self.ask_cpu, exc.problems[0].message)
            else:
                self.app.call_from_thread(self.failed, f"{exc.message} ({exc.hint})")
            return
        except StyloraError as exc:
            self.app.call_from_thread(self.failed, f"{exc.message} ({exc.hint})")
            return
        self.post_message(MonitorRequested(started.prepared.run, time.time()))

    def ask_cpu(self, message: str) -> None:
        """A real model on a machine without a GPU: say how long it would take, then ask."""
        from stylora_tui.tui.dialogs.confirm import ConfirmDialog

        self.launching = False
        self.show_error("")

        def answered(yes: bool | None) -> None:
            if yes:
                self.finish(allow_cpu=True)
            else:
                self.show_error("not launched: train on a machine with an NVIDIA GPU")

        self.app.push_screen(
            ConfirmDialog(escape(printable(message)) + "\n\nTrain on the CPU anyway?", yes="Train on CPU", no="Cancel"), answered
        )

    def failed(self, message: str) -> None:
        self.launching = False
        self.show_error(message)

    def worker_failed(self, group: str) -> None:
        if group == "launch":
            self.launching = False
