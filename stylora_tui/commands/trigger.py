"""`stylora-tui trigger WORD [--family F] [--dataset DIR] [--json]`."""

from __future__ import annotations

from pathlib import Path

from stylora_tui.config.families import FAMILIES, get_family
from stylora_tui.dataset.tokens import check_trigger
from stylora_tui.display import printable
from stylora_tui.views.console import console, print_json, safe


def dataset_captions(folder: Path, caption_extension: str) -> list[str]:
    from stylora_tui.dataset.scan import list_dataset, read_caption

    entries, _, _ = list_dataset(folder, caption_extension, 1)
    return [read_caption(caption).text for _, _, caption in entries if caption is not None]


def run(args) -> int:
    from stylora_tui.integrations.clip_tokenizer import load_for_model

    tokenizer, _ = load_for_model(args.model)
    captions = dataset_captions(Path(args.dataset), args.caption_extension) if args.dataset else None
    report = check_trigger(args.word, tokenizer, get_family(args.family), FAMILIES, captions)
    if args.json:
        print_json(report.to_json())
    else:
        out = console()
        style = {"ok": "bold green", "warn": "bold yellow", "error": "bold red"}[report.verdict]
        out.print(f"[{style}]{report.verdict}[/] {safe(repr(args.word))}: {len(report.tokens.ids)} token(s)")
        pieces = " ".join(f"{p}({i})" for p, i in zip(report.tokens.pieces, report.tokens.ids))
        out.print(f"  pieces: {printable(pieces)}", markup=False)
        for finding in report.findings:
            out.print(f"  {finding.severity.value} {finding.code}: {printable(finding.message)}", markup=False)
            out.print(f"    hint: {printable(finding.hint)}", markup=False, style="dim")
        if report.suggestions:
            out.print("  try: " + ", ".join(report.suggestions), markup=False)
    return 1 if report.verdict == "error" else 0
