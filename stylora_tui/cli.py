"""The `stylora-tui` command line.

Startup is a feature over SSH: this module imports only the standard library at import
time; each command imports what it needs when it runs, so `--help`, `check`, `trigger`
and `runs` never load torch, and Textual loads only for the wizard and the monitor.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from stylora_tui import __version__
from stylora_tui.commands import arguments
from stylora_tui.errors import StyloraError

EXIT_OK, EXIT_INPUT, EXIT_USAGE = 0, 1, 2
# Kept in step with config.families (a test checks) so --help needs no import beyond the stdlib.
# Kept in step with config.bases.KNOWN_BASES the same way.

DESCRIPTION = """\
Train an SDXL art-style LoCon adapter from a terminal wizard.

Run without a command to open the wizard. Runs keep training when the terminal
closes; come back with `stylora-tui --resume NAME`."""

EPILOG = """\
exit codes: 0 success, 1 the input has errors (stderr says what and how to fix it),
2 usage error.  Runs live in --runs-dir, else $STYLORA_RUNS_DIR, else ./runs."""


class Parser(argparse.ArgumentParser):
    """argparse that prints a one-line usage error with a hint (exit 2), no wall of usage."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"error: {message}\nhint: see `{self.prog} --help`\n")
        raise SystemExit(EXIT_USAGE)


def _command(name: str) -> Callable[[argparse.Namespace], int]:
    """Import a command's module only when it runs."""

    def run(args: argparse.Namespace) -> int:
        import importlib

        module = importlib.import_module(f"stylora_tui.commands.{name}")
        return module.run(args)

    return run


def _top_level(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        interactive = sys.stdin.isatty() and sys.stdout.isatty() and not args.headless
        args.interactive = interactive
        if args.resume:
            return _command("resume")(args)
        if args.demo and not interactive:
            return _command("demo")(args)
        if not interactive:
            sys.stderr.write(
                "error: the wizard needs an interactive terminal\n"
                "hint: use `stylora-tui train ...` (see --help), or `stylora-tui --demo --headless`\n"
            )
            return EXIT_INPUT
        return _command("wizard")(args)

    return run


@dataclass(frozen=True)
class Command:
    """A command: its name, the module under stylora_tui.commands that runs it (imported only
    then), the function that declares its arguments, and its help texts."""

    name: str
    module: str
    arguments: Callable[[argparse.ArgumentParser], None]
    help: str
    description: str


COMMANDS: tuple[Command, ...] = (
    Command(
        "check",
        "check",
        arguments.check_arguments,
        help="check a dataset: broken images, captions, aspect ratios, buckets, steps",
        description="Check a dataset before training. Exit 1 when any finding is an error.",
    ),
    Command(
        "trigger",
        "trigger",
        arguments.trigger_arguments,
        help="check a trigger word against the CLIP tokenizer",
        description="Check a trigger word against the real CLIP tokenizer. Exit 1 on an error verdict.",
    ),
    Command(
        "crop",
        "crop",
        arguments.crop_arguments,
        help="write a copy of a dataset cropped to one aspect ratio",
        description="Write center-cropped copies (and captions) to a new folder. The dataset is never touched.",
    ),
    Command(
        "captions",
        "captions",
        arguments.captions_arguments,
        help="write a copy of a tagged dataset with the trigger first in every caption",
        description="Put the trigger first in every caption (added, or moved to the front), each tag once, in a new folder: "
        "images are hard-linked (copied across filesystems), captions written. The dataset is never touched.",
    ),
    Command(
        "tag",
        "tag",
        arguments.tag_arguments,
        help="tag untagged images (WD14 tagger) into a new folder, the trigger first",
        description="Danbooru tags for each image from a WD14 ONNX tagger (downloaded once, reused offline; the GPU with "
        "onnxruntime-gpu), written as captions into a new folder with the trigger first and the family's quality tags "
        "after it. Images are hard-linked (copied across filesystems). The dataset is never touched.",
    ),
    Command(
        "train",
        "train",
        arguments.train_arguments,
        help="start a training run without the wizard (Rich progress, or --detach)",
        description="Start a training run. Without --detach, shows progress; Ctrl-C stops it cleanly (a checkpoint is saved).",
    ),
    Command(
        "queue",
        "queue",
        arguments.queue_arguments,
        help="train prepared runs one after another (one per GPU on several), then stop the machine once",
        description="Train runs prepared with `train --no-start` (or stopped ones) one after another, or one per GPU "
        "on a machine with several, in a runner that goes on without this terminal; [rental] on_finish applies "
        "after the last run.",
    ),
    Command(
        "runs", "runs", arguments.runs_arguments, help="list runs and their status", description="List runs and their status."
    ),
    Command(
        "stop",
        "stop",
        arguments.stop_arguments,
        help="ask a running trainer to save and stop",
        description="Ask a running trainer to save a checkpoint and stop at the next step.",
    ),
    Command(
        "plan",
        "plan",
        arguments.plan_arguments,
        help="what a config will train: modules, parameters, file size, steps",
        description="Show what a config trains: kohya module names, trainable parameters, output size, steps. Needs no weights.",
    ),
    Command(
        "compare",
        "compare",
        arguments.compare_arguments,
        help="every epoch's previews judged (style score, copy alarm) and the adapter suggested; choose one",
        description="Judge each saved epoch's previews (style score against the dataset, copies of training images), "
        "suggest an epoch and strength, write a labelled sheet, and/or choose an epoch.",
    ),
    Command(
        "resize",
        "resize",
        arguments.resize_arguments,
        help="shrink an adapter by SVD, keeping its effect",
        description="Shrink a LoRA/LoCon file by SVD per module (3x3 convs included); alpha is rescaled so the effect is unchanged.",
    ),
    Command(
        "presets",
        "presets",
        arguments.presets_arguments,
        help="list presets, or show one",
        description="List shipped and user presets, or show one.",
    ),
    Command(
        "import-kohya",
        "import_kohya",
        arguments.import_kohya_arguments,
        help="convert a kohya_ss GUI preset (.json) to a stylora preset",
        description="Convert a kohya_ss GUI LoRA preset (.json) into a stylora-tui preset (.toml).",
    ),
    Command(
        "export-kohya",
        "export_kohya",
        arguments.export_kohya_arguments,
        help="write sd-scripts config files that reproduce a run",
        description="Write sd-scripts --config_file and --dataset_config TOMLs for a run or a config file.",
    ),
    Command(
        "demo-model",
        "demo_model",
        arguments.demo_model_arguments,
        help="write the tiny SDXL-shaped demo model as a diffusers folder",
        description="Write the embedded demo model (tiny SDXL architecture, random weights from a fixed seed) as a diffusers folder.",
    ),
)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="stylora-tui",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"stylora-tui {__version__}")
    parser.add_argument("--demo", action="store_true", help="open the wizard pre-filled with the embedded demo")
    parser.add_argument("--resume", metavar="RUN", help="reattach to a live run, or resume a stopped one")
    parser.add_argument("--headless", action="store_true", help="with --resume or --demo: a plain Rich view, no TUI")
    parser.add_argument(
        "--from",
        dest="from_mirror",
        metavar="MIRROR",
        help="with --resume: restore the run from its mirror (a folder, user@host:path or hf://org/repo) and continue it here",
    )
    parser.add_argument(
        "--dataset", dest="resume_dataset", metavar="DIR", help="with --resume --from: the dataset's folder on this machine"
    )
    parser.add_argument(
        "--model", dest="resume_model", metavar="PATH", help="with --resume --from: the base model's path on this machine"
    )
    arguments.add_runs_dir(parser)
    parser.set_defaults(handler=_top_level(parser))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for command in COMMANDS:
        p = sub.add_parser(command.name, help=command.help, description=command.description)
        command.arguments(p)
        p.set_defaults(handler=_command(command.module))
    return parser


# The options that only the wizard / `--resume` read, by their flag: given with a command,
# or `--from` without `--resume`, they would be ignored without a word.
TOP_LEVEL_ONLY = {
    "demo": "--demo",
    "resume": "--resume",
    "headless": "--headless",
    "from_mirror": "--from",
    "resume_dataset": "--dataset",
    "resume_model": "--model",
}
WITH_RESUME = ("from_mirror", "resume_dataset", "resume_model")


def _check_top_level(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    given = [flag for dest, flag in TOP_LEVEL_ONLY.items() if getattr(args, dest, None)]
    if args.command and given:
        parser.error(
            f"{' and '.join(given)} {'go' if len(given) > 1 else 'goes'} without a command "
            f"(`stylora-tui --resume NAME` or `stylora-tui --demo`), not with `{args.command}`"
        )
    orphans = [TOP_LEVEL_ONLY[dest] for dest in WITH_RESUME if getattr(args, dest)]
    if orphans and not args.resume:
        verb = "need" if len(orphans) > 1 else "needs"
        parser.error(f"{' and '.join(orphans)} {verb} --resume NAME: `stylora-tui --resume NAME {orphans[0]} ...`")
    if args.resume and args.demo:
        parser.error("--resume and --demo open different things: give one of them")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _check_top_level(parser, args)
    try:
        return args.handler(args)
    except StyloraError as exc:
        from stylora_tui.display import printable_lines

        # Messages quote file names, captions and config keys: never raw to the terminal.
        sys.stderr.write(f"error: {printable_lines(exc.message)}\n")
        if exc.hint:
            sys.stderr.write(f"hint: {printable_lines(exc.hint)}\n")
        return EXIT_INPUT
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except BrokenPipeError:
        # `stylora-tui runs --json | head` closes the pipe early; that is not an error.
        return EXIT_OK
