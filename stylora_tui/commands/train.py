"""`stylora-tui train ...`: the run without the wizard."""

from __future__ import annotations

from stylora_tui.config.presets import preset_for
from stylora_tui.launch.options import edits_from_args, resolve_model_option
from stylora_tui.launch.prepare import prepare_run
from stylora_tui.launch.start import start_run
from stylora_tui.run.layout import runs_root
from stylora_tui.views import download
from stylora_tui.views.console import console, safe
from stylora_tui.views.headless import follow_started


def run(args) -> int:
    from stylora_tui.integrations.clip_tokenizer import load_shipped
    from stylora_tui.integrations.nvml import this_machine

    resolve_model_option(args, download.fetch)
    config = preset_for(args.family, args.preset, edits_from_args(args))
    if args.no_start:
        prepared = prepare_run(
            config, runs_root(args.runs_dir), args.run, load_shipped(), machine=this_machine(), allow_cpu=args.allow_cpu
        )
        name = prepared.run.name
        console().print(f"prepared {safe(name)} (not started): start it with others as `stylora-tui queue {safe(name)} ...`")
        return 0
    started = start_run(
        config, runs_root(args.runs_dir), args.run, load_shipped(), machine=this_machine(), allow_cpu=args.allow_cpu
    )
    return follow_started(started, detach=args.detach)
