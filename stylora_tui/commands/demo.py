"""`stylora-tui --demo --headless`: the whole product on the embedded demo, no terminal UI.

The same path the wizard walks (dataset check, trigger check, plan, launch, monitor),
printed as it goes: for CI, a pipe, or a terminal that cannot run the wizard.
"""

from __future__ import annotations

from pathlib import Path

from stylora_tui.config.families import FAMILIES, get_family
from stylora_tui.config.presets import load_preset
from stylora_tui.config.toml_io import config_to_dict
from stylora_tui.dataset.doctor import examine
from stylora_tui.dataset.scan import scan_dataset
from stylora_tui.dataset.tokens import check_trigger
from stylora_tui.launch.prepare import with_defaults
from stylora_tui.launch.start import start_run
from stylora_tui.run.layout import runs_root
from stylora_tui.views.console import console
from stylora_tui.views.headless import follow_started
from stylora_tui.views.report import render_report


def run(args) -> int:
    from stylora_tui.integrations.clip_tokenizer import load_shipped

    out = console()
    config = with_defaults(load_preset("demo"))
    tokenizer = load_shipped()
    out.rule("1. base model")
    out.print(f"family {config.model.family}: {get_family(config.model.family).summary}")
    out.print("model: the embedded demo (a tiny SDXL-shaped model, built once into the cache)")
    out.rule("2. dataset")
    report = examine(
        scan_dataset(Path(config.dataset.path), config.dataset.caption_extension, config.dataset.repeats), config, tokenizer
    )
    render_report(report)
    out.rule("3. trigger")
    trigger = check_trigger(config.captions.trigger, tokenizer, get_family(config.model.family), FAMILIES)
    out.print(
        f"{trigger.trigger!r}: {trigger.verdict} ({len(trigger.tokens.ids)} tokens: {' '.join(trigger.tokens.pieces)})",
        markup=False,
    )
    out.rule("4. preset")
    data = config_to_dict(config)
    for key in ("network", "optimizer", "training"):
        out.print(f"[{key}] " + ", ".join(f"{k}={v}" for k, v in data[key].items() if not isinstance(v, dict)), markup=False)
    out.rule("5. launch")
    from stylora_tui.integrations.nvml import this_machine

    return follow_started(start_run(config, runs_root(args.runs_dir), None, tokenizer, machine=this_machine()), detach=False)
