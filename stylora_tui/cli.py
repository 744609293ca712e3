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
from stylora_tui.errors import StyloraError

EXIT_OK, EXIT_INPUT, EXIT_USAGE = 0, 1, 2
# Kept in step with config.families (a test checks) so --help needs no import beyond the stdlib.
FAMILY_NAMES = ("pony", "animagine", "illustrious", "noobai", "other")
# Kept in step with config.bases.KNOWN_BASES the same way.
KNOWN_BASE_NAMES = ("animagine-xl-4.0", "illustrious-xl-0.1", "noobai-xl-1.1", "noobai-xl-vpred-1.0")

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


def _add_runs_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs-dir", metavar="DIR", help="runs root (default: $STYLORA_RUNS_DIR, else ./runs)")


def _add_train_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        metavar="PATH|ID|demo",
        help="SDXL .safetensors file or diffusers folder; a hub id (org/repo, org/repo/file.safetensors, "
        "downloaded once and reused offline); a known base (" + ", ".join(KNOWN_BASE_NAMES) + "); or 'demo'",
    )
    parser.add_argument("--dataset", metavar="DIR", help="image folder with captions")
    parser.add_argument("--trigger", help="the trigger word, first in every caption")
    parser.add_argument("--family", choices=FAMILY_NAMES, help="base model family")
    parser.add_argument("--preset", metavar="NAME|FILE", help="preset name or .toml file (default: the family's style preset)")
    parser.add_argument("--run", metavar="NAME", help="run name (default: the next run-NN)")
    _add_runs_dir(parser)
    parser.add_argument("--resolution", metavar="PX", help="training resolution, 1024 or 1024x1536")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--max-steps", type=int)
    parser.add_argument("--save-every", type=int, metavar="N", help="save an adapter every N epochs")
    parser.add_argument("--seed", type=int)
    parser.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="any config key, e.g. --set network.dim=32 (repeatable)"
    )


def _check_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", metavar="DATASET", help="the image folder (kohya <repeats>_<name> subfolders work)")
    p.add_argument("--family", choices=FAMILY_NAMES, help="base model family (default: animagine)")
    p.add_argument("--trigger", help="the trigger word the captions should start with")
    p.add_argument("--preset", help="preset name or .toml file (default: the family's style preset)")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _trigger_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("word", metavar="WORD")
    p.add_argument("--family", choices=FAMILY_NAMES, default="animagine", help="base model family (default: animagine)")
    p.add_argument("--dataset", metavar="DIR", help="also check the trigger against this dataset's captions")
    p.add_argument("--caption-extension", default=".txt", help="caption extension in --dataset (default: .txt)")
    p.add_argument("--model", metavar="PATH", help="use this diffusers folder's own tokenizers")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _crop_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", metavar="DATASET")
    p.add_argument("--aspect", required=True, metavar="W:H", help="e.g. 2:3 (the practice's portrait) or 1:1")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="a new folder for the cropped copy")
    p.add_argument("--caption-extension", default=".txt", help="caption extension (default: .txt)")


def _captions_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", metavar="DATASET")
    p.add_argument("--add-trigger", required=True, metavar="TRIGGER", help="the trigger word to put first")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="a new folder for the copy")
    p.add_argument("--family", choices=FAMILY_NAMES, default="animagine", help="base model family the trigger is checked for")
    p.add_argument("--copy", action="store_true", help="copy the images instead of hard-linking them")
    p.add_argument("--caption-extension", default=".txt", help="caption extension (default: .txt)")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _tag_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", metavar="DATASET")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="a new folder for the tagged copy")
    p.add_argument("--trigger", required=True, help="the trigger word, first in every caption")
    p.add_argument(
        "--family", choices=FAMILY_NAMES, help="base model family: its quality tags follow the trigger (Pony's score tags)"
    )
    p.add_argument(
        "--tagger",
        default="SmilingWolf/wd-eva02-large-tagger-v3",
        metavar="ID|DIR",
        help="hub id or folder with model.onnx and selected_tags.csv (default: SmilingWolf/wd-eva02-large-tagger-v3)",
    )
    p.add_argument("--general", type=float, default=0.35, metavar="P", help="general tag threshold (default: 0.35)")
    p.add_argument("--character", type=float, default=0.85, metavar="P", help="character tag threshold (default: 0.85)")
    p.add_argument("--keep-existing", action="store_true", help="keep the captions images already have; tag only the others")
    p.add_argument("--batch-size", type=int, default=8, metavar="N", help="images per tagger call (default: 8)")
    p.add_argument("--copy", action="store_true", help="copy the images instead of hard-linking them")
    p.add_argument("--caption-extension", default=".txt", help="caption extension (default: .txt)")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _train_arguments(p: argparse.ArgumentParser) -> None:
    _add_train_options(p)
    p.add_argument("--detach", action="store_true", help="return at once; the run keeps training")
    p.add_argument(
        "--allow-cpu", action="store_true", help="train a real model on a machine without an NVIDIA GPU (days, not hours)"
    )


def _runs_arguments(p: argparse.ArgumentParser) -> None:
    _add_runs_dir(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _stop_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN")
    p.add_argument("--wait", action="store_true", help="follow the run until it has stopped")
    p.add_argument(
        "--keep-machine",
        action="store_true",
        help="do not stop the rented machine when the run ends ([rental] on_finish/on_failure); "
        "cancels a countdown under way; the run itself goes on",
    )
    _add_runs_dir(p)


def _plan_arguments(p: argparse.ArgumentParser) -> None:
    _add_train_options(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _epoch(text: str) -> int:
    try:
        epoch = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an epoch number") from None
    if epoch < 1:
        raise argparse.ArgumentTypeError(f"{epoch} is not an epoch (they count from 1)")
    return epoch


def _compare_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN", nargs="+", help="one run, or several runs of one dataset ranked together")
    p.add_argument("-o", "--output", metavar="SHEET.png", help="where to write the comparison sheet")
    p.add_argument(
        "--best",
        type=_epoch,
        nargs="?",
        const=0,  # no epoch given: the suggested one (an int const is not passed through type)
        metavar="EPOCH",
        help="copy that epoch's adapter (alone: the suggested one) to output/RUN-best.safetensors",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--style-model",
        metavar="SPEC",
        help="score style with this model (a hub id, fetched if needed, or a .onnx file); "
        "default: the run's samples.style_model when it is already on this machine",
    )
    _add_runs_dir(p)


def _resize_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", metavar="IN", help="a .safetensors LoRA/LoCon in kohya's layout")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="where to write the resized file")
    size = p.add_mutually_exclusive_group(required=True)
    size.add_argument("--rank", type=int, metavar="N", help="keep rank N in every module")
    size.add_argument(
        "--fro", type=float, metavar="P", help="per module, keep the smallest rank holding P of the Frobenius norm (e.g. 0.9)"
    )
    p.add_argument("--verbose", action="store_true", help="one line per module")
    p.add_argument("--force", action="store_true", help="replace OUT if it exists")


def _presets_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", help="a preset to show")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _import_kohya_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE.json")
    p.add_argument("-o", "--output", metavar="OUT.toml", required=True, help="where to write the preset")
    p.add_argument("--force", action="store_true", help="overwrite OUT.toml if it exists")
    p.add_argument("--json", action="store_true", help="machine-readable report")


def _export_kohya_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", metavar="RUN_OR_CONFIG")
    p.add_argument("-o", "--output", metavar="DIR", required=True, help="folder for the two TOML files")
    _add_runs_dir(p)


def _demo_model_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", metavar="DIR")
    p.add_argument(
        "--full-tree",
        action="store_true",
        help="SDXL's full module tree (depths 1/2/10, 12- and 32-layer text encoders) at tiny widths",
    )
    p.add_argument(
        "--single-file",
        metavar="FILE.safetensors",
        help="also write it as one original-layout checkpoint, as CivitAI ships models",
    )
    p.add_argument(
        "--v-prediction", action="store_true", help="mark it v-prediction with zero terminal SNR (like NoobAI-XL V-Pred)"
    )


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
        _check_arguments,
        help="check a dataset: broken images, captions, aspect ratios, buckets, steps",
        description="Check a dataset before training. Exit 1 when any finding is an error.",
    ),
    Command(
        "trigger",
        "trigger",
        _trigger_arguments,
        help="check a trigger word against the CLIP tokenizer",
        description="Check a trigger word against the real CLIP tokenizer. Exit 1 on an error verdict.",
    ),
    Command(
        "crop",
        "crop",
        _crop_arguments,
        help="write a copy of a dataset cropped to one aspect ratio",
        description="Write center-cropped copies (and captions) to a new folder. The dataset is never touched.",
    ),
    Command(
        "captions",
        "captions",
        _captions_arguments,
        help="write a copy of a tagged dataset with the trigger first in every caption",
        description="Put the trigger first in every caption (added, or moved to the front), each tag once, in a new folder: "
        "images are hard-linked (copied across filesystems), captions written. The dataset is never touched.",
    ),
    Command(
        "tag",
        "tag",
        _tag_arguments,
        help="tag untagged images (WD14 tagger) into a new folder, the trigger first",
        description="Danbooru tags for each image from a WD14 ONNX tagger (downloaded once, reused offline; the GPU with "
        "onnxruntime-gpu), written as captions into a new folder with the trigger first and the family's quality tags "
        "after it. Images are hard-linked (copied across filesystems). The dataset is never touched.",
    ),
    Command(
        "train",
        "train",
        _train_arguments,
        help="start a training run without the wizard (Rich progress, or --detach)",
        description="Start a training run. Without --detach, shows progress; Ctrl-C stops it cleanly (a checkpoint is saved).",
    ),
    Command("runs", "runs", _runs_arguments, help="list runs and their status", description="List runs and their status."),
    Command(
        "stop",
        "stop",
        _stop_arguments,
        help="ask a running trainer to save and stop",
        description="Ask a running trainer to save a checkpoint and stop at the next step.",
    ),
    Command(
        "plan",
        "plan",
        _plan_arguments,
        help="what a config will train: modules, parameters, file size, steps",
        description="Show what a config trains: kohya module names, trainable parameters, output size, steps. Needs no weights.",
    ),
    Command(
        "compare",
        "compare",
        _compare_arguments,
        help="every epoch's previews judged (style score, copy alarm) and the adapter suggested; choose one",
        description="Judge each saved epoch's previews (style score against the dataset, copies of training images), "
        "suggest an epoch and strength, write a labelled sheet, and/or choose an epoch.",
    ),
    Command(
        "resize",
        "resize",
        _resize_arguments,
        help="shrink an adapter by SVD, keeping its effect",
        description="Shrink a LoRA/LoCon file by SVD per module (3x3 convs included); alpha is rescaled so the effect is unchanged.",
    ),
    Command(
        "presets",
        "presets",
        _presets_arguments,
        help="list presets, or show one",
        description="List shipped and user presets, or show one.",
    ),
    Command(
        "import-kohya",
        "import_kohya",
        _import_kohya_arguments,
        help="convert a kohya_ss GUI preset (.json) to a stylora preset",
        description="Convert a kohya_ss GUI LoRA preset (.json) into a stylora-tui preset (.toml).",
    ),
    Command(
        "export-kohya",
        "export_kohya",
        _export_kohya_arguments,
        help="write sd-scripts config files that reproduce a run",
        description="Write sd-scripts --config_file and --dataset_config TOMLs for a run or a config file.",
    ),
    Command(
        "demo-model",
        "demo_model",
        _demo_model_arguments,
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
    _add_runs_dir(parser)
    parser.set_defaults(handler=_top_level(parser))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for command in COMMANDS:
        p = sub.add_parser(command.name, help=command.help, description=command.description)
        command.arguments(p)
        p.set_defaults(handler=_command(command.module))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
