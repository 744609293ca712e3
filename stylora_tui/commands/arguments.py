"""Each command's arguments, declared once (cli.py builds the parser from them). Only
argparse here: `--help` must stay fast over SSH."""

from __future__ import annotations

import argparse

FAMILY_NAMES = ("pony", "animagine", "illustrious", "noobai", "other")
KNOWN_BASE_NAMES = ("animagine-xl-4.0", "illustrious-xl-0.1", "noobai-xl-1.1", "noobai-xl-vpred-1.0")


def add_runs_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs-dir", metavar="DIR", help="runs root (default: $STYLORA_RUNS_DIR, else ./runs)")


def add_train_options(parser: argparse.ArgumentParser) -> None:
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
    add_runs_dir(parser)
    parser.add_argument("--resolution", metavar="PX", help="training resolution, 1024 or 1024x1536")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--max-steps", type=int)
    parser.add_argument("--save-every", type=int, metavar="N", help="save an adapter every N epochs")
    parser.add_argument("--seed", type=int)
    parser.add_argument(
        "--mirror", metavar="TO", help="copy the run off this machine as it goes: a folder, user@host:path or hf://org/repo"
    )
    parser.add_argument(
        "--on-finish",
        choices=("nothing", "stop", "terminate"),
        help="when the run has finished (and the mirror has it): stop or give back this rented machine",
    )
    parser.add_argument("--on-failure", choices=("nothing", "stop", "terminate"), help="the same when the run fails")
    parser.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="any config key, e.g. --set network.dim=32 (repeatable)"
    )


def check_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", metavar="DATASET", help="the image folder (kohya <repeats>_<name> subfolders work)")
    p.add_argument("--family", choices=FAMILY_NAMES, help="base model family (default: animagine)")
    p.add_argument("--trigger", help="the trigger word the captions should start with")
    p.add_argument("--preset", help="preset name or .toml file (default: the family's style preset)")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def trigger_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("word", metavar="WORD")
    p.add_argument("--family", choices=FAMILY_NAMES, default="animagine", help="base model family (default: animagine)")
    p.add_argument("--dataset", metavar="DIR", help="also check the trigger against this dataset's captions")
    p.add_argument("--caption-extension", default=".txt", help="caption extension in --dataset (default: .txt)")
    p.add_argument("--model", metavar="PATH", help="use this diffusers folder's own tokenizers")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def crop_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", metavar="DATASET")
    p.add_argument("--aspect", required=True, metavar="W:H", help="e.g. 2:3 (the practice's portrait) or 1:1")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="a new folder for the cropped copy")
    p.add_argument("--caption-extension", default=".txt", help="caption extension (default: .txt)")


def captions_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", metavar="DATASET")
    p.add_argument("--add-trigger", required=True, metavar="TRIGGER", help="the trigger word to put first")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="a new folder for the copy")
    p.add_argument("--family", choices=FAMILY_NAMES, default="animagine", help="base model family the trigger is checked for")
    p.add_argument("--copy", action="store_true", help="copy the images instead of hard-linking them")
    p.add_argument("--caption-extension", default=".txt", help="caption extension (default: .txt)")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def tag_arguments(p: argparse.ArgumentParser) -> None:
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


def queue_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", metavar="RUN", nargs="+", help="prepared runs (train --no-start), or stopped ones")
    add_runs_dir(p)


def train_arguments(p: argparse.ArgumentParser) -> None:
    add_train_options(p)
    p.add_argument("--detach", action="store_true", help="return at once; the run keeps training")
    p.add_argument(
        "--no-start", action="store_true", help="check and prepare the run, but start it later (stylora-tui queue RUN...)"
    )
    p.add_argument(
        "--allow-cpu", action="store_true", help="train a real model on a machine without an NVIDIA GPU (days, not hours)"
    )


def runs_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="NAME", nargs="?", help="one run in full: outputs, mirror, cost, and how to take it home")
    add_runs_dir(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")


def stop_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN")
    p.add_argument("--wait", action="store_true", help="follow the run until it has stopped")
    p.add_argument(
        "--keep-machine",
        action="store_true",
        help="do not stop the rented machine when the run ends ([rental] on_finish/on_failure); "
        "cancels a countdown under way; the run itself goes on",
    )
    add_runs_dir(p)


def plan_arguments(p: argparse.ArgumentParser) -> None:
    add_train_options(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")


def epoch(text: str) -> int:
    try:
        epoch = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an epoch number") from None
    if epoch < 1:
        raise argparse.ArgumentTypeError(f"{epoch} is not an epoch (they count from 1)")
    return epoch


def compare_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN", nargs="+", help="one run, or several runs of one dataset ranked together")
    p.add_argument("-o", "--output", metavar="SHEET.png", help="where to write the comparison sheet")
    p.add_argument(
        "--best",
        type=epoch,
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
    add_runs_dir(p)


def resize_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", metavar="IN", help="a .safetensors LoRA/LoCon in kohya's layout")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="where to write the resized file")
    size = p.add_mutually_exclusive_group(required=True)
    size.add_argument("--rank", type=int, metavar="N", help="keep rank N in every module")
    size.add_argument(
        "--fro", type=float, metavar="P", help="per module, keep the smallest rank holding P of the Frobenius norm (e.g. 0.9)"
    )
    p.add_argument("--verbose", action="store_true", help="one line per module")
    p.add_argument("--force", action="store_true", help="replace OUT if it exists")


def presets_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", help="a preset to show")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def import_kohya_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE.json")
    p.add_argument("-o", "--output", metavar="OUT.toml", required=True, help="where to write the preset")
    p.add_argument("--force", action="store_true", help="overwrite OUT.toml if it exists")
    p.add_argument("--json", action="store_true", help="machine-readable report")


def export_kohya_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", metavar="RUN_OR_CONFIG")
    p.add_argument("-o", "--output", metavar="DIR", required=True, help="folder for the two TOML files")
    add_runs_dir(p)


def demo_model_arguments(p: argparse.ArgumentParser) -> None:
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
