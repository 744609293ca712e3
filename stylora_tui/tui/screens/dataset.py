"""Step 2: the dataset doctor, in a worker, with the bucket chart and the crop offer."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, ProgressBar, Static

from stylora_tui.dataset.buckets import aspect_label
from stylora_tui.dataset.crop import crop_dataset, crop_losses, describe_losses, parse_aspect
from stylora_tui.dataset.doctor import examine
from stylora_tui.dataset.scan import scan_dataset
from stylora_tui.display import printable, printable_lines
from stylora_tui.errors import StyloraError
from stylora_tui.tui.messages import DatasetScanned, ScanProgressed
from stylora_tui.tui.palette import theme_palette
from stylora_tui.tui.screens.step import WizardStepScreen
from stylora_tui.tui.widgets.bucket_chart import BucketChart
from stylora_tui.tui.widgets.field import Field
from stylora_tui.tui.widgets.findings import FindingsView


class DatasetScreen(WizardStepScreen):
    STEP = "dataset"
    BINDINGS = [
        *WizardStepScreen.BINDINGS,
        Binding("ctrl+r", "scan", "Check again"),
        Binding("ctrl+o", "browse", "Browse folders"),
    ]

    def compose_body(self) -> ComposeResult:
        yield Label("Dataset folder (images with .txt captions; <repeats>_<name> subfolders work):")
        yield Field(self.wizard.dataset_path, placeholder="~/datasets/mystyle", id="dataset")
        yield ProgressBar(id="scan-progress", show_eta=False)
        yield Static("", id="summary")
        yield BucketChart(id="buckets")
        with Vertical(id="crop-offer"):
            yield Static("", id="crop-label", classes="help")
            with Horizontal(classes="offer"):
                yield Field(placeholder="folder for cropped copies", id="crop-out")
                yield Button("Crop", id="crop")
        with Vertical(id="tag-offer"):
            yield Static("", id="tag-label", classes="help")
            with Horizontal(classes="offer"):
                yield Field(placeholder="folder for the tagged copy", id="tag-out")
                yield Button("Tag", id="tag")
        yield FindingsView(id="findings")

    def on_mount(self) -> None:
        self.query_one("#crop-offer").display = False
        self.query_one("#tag-offer").display = False
        self.query_one("#scan-progress").display = False
        self.query_one("#dataset", Input).focus()
        if self.report is not None and str(self.report.scan.root) == str(Path(self.wizard.dataset_path).expanduser().absolute()):
            # Scanned before: judged again under the settings of now (repeats, batch size and
            # epochs may have changed on the preset step); the images are not read again.
            self.query_one("#summary", Static).update("counting with the current settings...")
            self.judge(self.report.scan)
        elif self.wizard.dataset_path:
            self.action_scan()

    @work(thread=True, exclusive=True, group="scan", exit_on_error=False)
    def judge(self, scan) -> None:
        try:
            config = self.wizard.config()
        except StyloraError as exc:
            self.post_message(DatasetScanned(None, f"{exc.message} ({exc.hint})"))
            return
        tokenizer, _ = self.tokenizers()
        self.post_message(DatasetScanned(examine(scan, config, tokenizer)))

    @on(Input.Submitted, "#dataset")
    def submitted(self) -> None:
        self.action_scan()

    def action_browse(self) -> None:
        from stylora_tui.tui.dialogs.browse import FileBrowserDialog

        field = self.query_one("#dataset", Input)

        def chosen(path: str | None) -> None:
            field.focus()
            if path:
                field.value = path
                self.action_scan()

        self.app.push_screen(
            FileBrowserDialog(
                "Choose the dataset folder (ctrl+d uses the highlighted one)", field.value, folders=True, files=False
            ),
            chosen,
        )

    def action_scan(self) -> None:
        path = self.query_one("#dataset", Input).value.strip()
        if not path:
            self.show_error("type the dataset folder, then press Enter")
            return
        self.keep()
        self.show_error("")
        bar = self.query_one("#scan-progress", ProgressBar)
        bar.display = True
        bar.update(total=None, progress=0)
        self.query_one("#summary", Static).update("checking every image...")
        self.scan(path)

    @work(thread=True, exclusive=True, group="scan", exit_on_error=False)
    def scan(self, path: str) -> None:
        try:
            config = self.wizard.config()
            scan = scan_dataset(
                Path(path).expanduser(),
                config.dataset.caption_extension,
                config.dataset.repeats,
                progress=self.scan_progressed,
            )
            tokenizer, _ = self.tokenizers()
            self.post_message(DatasetScanned(examine(scan, config, tokenizer)))
        except StyloraError as exc:
            self.post_message(DatasetScanned(None, f"{exc.message} ({exc.hint})"))

    def scan_progressed(self, done: int, total: int) -> None:
        """From the scan's worker thread: posted, not drawn here."""
        self.post_message(ScanProgressed(done, total))

    @on(ScanProgressed)
    def progressed(self, message: ScanProgressed) -> None:
        self.query_one("#scan-progress", ProgressBar).update(total=message.total, progress=message.done)

    @on(DatasetScanned)
    def scanned(self, message: DatasetScanned) -> None:
        self.query_one("#scan-progress").display = False
        if message.error:
            self.query_one("#summary", Static).update(Text(printable_lines(message.error), style=theme_palette(self.app).error))
            self.set_report(None)
            return
        self.set_report(message.report)
        self.show_report(message.report)

    def show_report(self, report) -> None:
        errors = sum(1 for f in report.findings if f.severity.value == "error")
        warnings = sum(1 for f in report.findings if f.severity.value == "warning")
        steps = report.steps
        summary = (
            f"{len(report.scan.images)} images, {len(report.scan.usable)} usable · "
            f"images x repeats x epochs = {sum(b.draws for b in steps.buckets)} x {steps.epochs} → {steps.total_steps} steps · "
            f"{'[$error]' if errors else '[$success]'}{errors} error(s)[/], {warnings} warning(s)"
        )
        self.query_one("#summary", Static).update(summary)
        self.query_one("#buckets", BucketChart).show(steps)
        self.query_one("#findings", FindingsView).show(report.findings)
        self.offer_tagging(report)
        mixed = any(f.code == "aspect-ratio-mix" for f in report.findings)
        offer = self.query_one("#crop-offer")
        offer.display = mixed
        if mixed and steps.buckets:
            dominant = steps.buckets[0]
            ratio = aspect_label(dominant.width, dominant.height)
            self.crop_ratio = ratio if ":" in ratio else "2:3"
            self.query_one("#crop", Button).label = f"Crop all to {self.crop_ratio}"
            losses = crop_losses(report.scan.usable, parse_aspect(self.crop_ratio), dominant.width * dominant.height)
            self.query_one("#crop-label", Static).update(
                Text(
                    f"Mixed aspect ratios: crop every image to one ratio ({self.crop_ratio}, the most common) into a new folder. "
                    + printable(describe_losses(losses, len(report.scan.usable)))
                )
            )
            target = self.query_one("#crop-out", Input)
            if not target.value:
                target.value = f"{report.scan.root}-{self.crop_ratio.replace(':', 'x')}"

    @on(Button.Pressed, "#crop")
    def crop_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        output = self.query_one("#crop-out", Input).value.strip()
        self.query_one("#summary", Static).update(Text(f"cropping to {self.crop_ratio} into {printable(output)}..."))
        self.crop(self.wizard.dataset_path, output, self.crop_ratio)

    @work(thread=True, exclusive=True, group="scan", exit_on_error=False)
    def crop(self, source: str, output: str, ratio: str) -> None:
        from stylora_tui.dataset.crop import parse_aspect

        try:
            crop_dataset(
                Path(source).expanduser(),
                Path(output).expanduser(),
                parse_aspect(ratio),
                self.wizard.config().dataset.caption_extension,
            )
        except StyloraError as exc:
            self.app.call_from_thread(self.derive_failed, f"{exc.message} ({exc.hint})")
            return
        self.app.call_from_thread(self.use_derived, output)

    def offer_tagging(self, report) -> None:
        missing = sum(1 for f in report.findings if f.code == "missing-caption")
        self.query_one("#tag-offer").display = bool(missing)
        if not missing:
            return
        self.query_one("#tag-label", Static).update(
            Text(
                f"{missing} image(s) have no caption: tag them with {self.services.tagger} into a new folder "
                "(captioned images keep theirs; the trigger goes first when training)"
            )
        )
        self.query_one("#tag", Button).label = f"Tag {missing} image(s)"
        target = self.query_one("#tag-out", Input)
        if not target.value:
            target.value = f"{report.scan.root}-tagged"

    @on(Button.Pressed, "#tag")
    def tag_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        output = self.query_one("#tag-out", Input).value.strip()
        self.query_one("#summary", Static).update(
            Text(f"tagging into {printable(output)} (the tagger downloads first if needed)...")
        )
        bar = self.query_one("#scan-progress", ProgressBar)
        bar.display = True
        bar.update(total=None, progress=0)
        self.tag(self.wizard.dataset_path, output)

    @work(thread=True, exclusive=True, group="scan", exit_on_error=False)
    def tag(self, source: str, output: str) -> None:
        from stylora_tui.integrations.tagger import tag_dataset

        services = self.services

        def show(done: int, total: int) -> None:
            self.post_message(ScanProgressed(done, total))

        try:
            tag_dataset(
                Path(source).expanduser(),
                Path(output).expanduser(),
                services.tagger,
                keep_existing=True,
                caption_extension=self.wizard.config().dataset.caption_extension,
                fetch=lambda ref: services.fetch(ref, lambda _what, done, total: show(done, total)),
                progress=show,
            )
        except StyloraError as exc:
            self.app.call_from_thread(self.derive_failed, f"{exc.message} ({exc.hint})")
            return
        self.app.call_from_thread(self.use_derived, output)

    def derive_failed(self, message: str) -> None:
        self.worker_failed("scan")
        self.show_error(message)

    def worker_failed(self, group: str) -> None:
        self.query_one("#scan-progress").display = False
        self.query_one("#summary", Static).update("")

    def use_derived(self, output: str) -> None:
        self.query_one("#dataset", Input).value = output
        self.action_scan()

    def more_below(self) -> str:
        parts = []
        report = self.report
        if report is not None and report.findings:
            errors = sum(1 for f in report.findings if f.severity.value == "error")
            parts.append(f"{len(report.findings)} finding(s)" + (f", {errors} error(s)" if errors else ""))
        if self.query_one("#crop-offer").display:
            parts.append("a crop offer")
        if self.query_one("#tag-offer").display:
            parts.append("a tagging offer")
        return ", ".join(parts) or "the buckets"

    def keep(self) -> None:
        self.change_wizard(dataset_path=self.query_one("#dataset", Input).value.strip())

    def ready(self) -> str:
        report = self.report
        if report is None or str(report.scan.root) != str(Path(self.wizard.dataset_path).expanduser().absolute()):
            return "check the dataset first (Enter in the folder field)"
        if report.has_errors:
            return "the dataset has errors: fix them (see the list), then check again with ctrl+r"
        return ""
