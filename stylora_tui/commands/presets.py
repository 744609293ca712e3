"""`stylora-tui presets [NAME] [--json]`."""

from __future__ import annotations

import sys

from stylora_tui.config.presets import list_presets, load_preset, resolve_preset
from stylora_tui.config.toml_io import config_to_dict
from stylora_tui.views.console import console, print_json, safe


def run(args) -> int:
    if args.name:
        config = load_preset(args.name)
        if args.json:
            print_json(config_to_dict(config))
        else:
            sys.stdout.write(resolve_preset(args.name).read_text(encoding="utf-8"))
        return 0
    presets = list_presets()
    if args.json:
        print_json([{"name": p.name, "source": p.source, "path": str(p.path), "description": p.description} for p in presets])
        return 0
    from rich.table import Table

    table = Table(title="presets (user presets shadow shipped ones)", title_justify="left")
    table.add_column("name")
    table.add_column("source")
    table.add_column("what it is for")
    for p in presets:
        table.add_row(safe(p.name), p.source, safe(p.description))
    console().print(table)
    return 0
