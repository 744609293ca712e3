"""The `train` options as a config layer, shared by `train`, `plan` and the headless demo:
what the command line asked for, over the chosen preset."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from stylora_tui.config.build import parse_override
from stylora_tui.errors import ConfigError

if TYPE_CHECKING:
    from stylora_tui.integrations.hub import HubRef


def _merge(target: dict, layer: dict) -> None:
    for section, values in layer.items():
        target.setdefault(section, {}).update(values)


def edits_from_args(args) -> dict:
    """A config layer from the command line's train options and --set KEY=VALUE."""
    edits: dict = {}
    simple = {
        ("model", "path"): args.model,
        ("dataset", "path"): args.dataset,
        ("captions", "trigger"): args.trigger,
        ("training", "epochs"): args.epochs,
        ("dataset", "repeats"): args.repeats,
        ("training", "batch_size"): args.batch_size,
        ("training", "max_steps"): args.max_steps,
        ("saving", "every_n_epochs"): args.save_every,
        ("training", "seed"): args.seed,
        ("mirror", "to"): getattr(args, "mirror", None),
        ("rental", "on_finish"): getattr(args, "on_finish", None),
        ("rental", "on_failure"): getattr(args, "on_failure", None),
    }
    for (section, key), value in simple.items():
        if value is not None:
            _merge(edits, {section: {key: value}})
    if args.resolution:
        try:
            sides = [int(s) for s in args.resolution.lower().replace(",", "x").split("x")]
        except ValueError:
            raise ConfigError(
                f"--resolution {args.resolution!r} is not a number or WxH", "write it like 1024 or 1024x1536"
            ) from None
        _merge(edits, {"dataset": {"resolution_px": sides if len(sides) == 2 else sides[0]}})
    for assignment in args.set or []:
        _merge(edits, parse_override(assignment))
    return edits


def resolve_model_option(args, fetch: Callable[[HubRef], Path]) -> None:
    """--model as a hub id, a hub address or a known base: `fetch(ref)` downloads it (or
    finds an earlier download) and its local path replaces the name. Without --family, the
    family is the known base's, else what the name says."""
    from stylora_tui.config.families import detect_family
    from stylora_tui.integrations import hub

    ref = hub.parse(args.model) if args.model and args.model != "demo" else None
    if ref is None:
        return
    path = fetch(ref)
    if args.family is None:
        args.family = ref.family or detect_family(ref.file or ref.prefer or ref.repo) or detect_family(path)
    args.model = str(path)
