"""`stylora-tui import-kohya FILE.json -o OUT.toml`."""

from __future__ import annotations

from pathlib import Path

from stylora_tui import paths
from stylora_tui.atomic import write_text_atomic
from stylora_tui.display import printable
from stylora_tui.errors import KohyaImportError
from stylora_tui.interop.kohya_import import import_kohya
from stylora_tui.interop.kohya_import_toml import import_to_toml
from stylora_tui.views.console import console, print_json, safe
from stylora_tui.views.invocation import command


def run(args) -> int:
    output = Path(args.output)
    if output.suffix != ".toml":
        raise KohyaImportError(f"{output} does not end in .toml", "name the output like my-style.toml")
    if output.exists() and not args.force:
        raise KohyaImportError(f"{output} already exists", "choose another name, or pass --force to overwrite it")
    result = import_kohya(Path(args.file))
    output.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(output, import_to_toml(result))
    for warning in result.warnings:
        console(stderr=True).print(f"[yellow]warning[/]: {safe(warning)}")
    if args.json:
        print_json({**result.to_json(), "output": str(output)})
        return 0
    out = console()
    out.print(f"Imported [bold]{safe(Path(args.file).name)}[/] → {safe(output)}")
    for note in result.notes:
        out.print(f"  note: {printable(note)}", markup=False)
    if result.unmapped:
        out.print("[yellow]Not carried over (no equivalent):[/]")
        for key, value, reason in result.unmapped:
            out.print(f"  {printable(key)} = {printable(repr(value))}: {printable(reason)}", markup=False)
    if result.automatic:
        out.print("[dim]Handled by stylora-tui itself: " + safe(", ".join(k for k, _, _ in result.automatic)) + "[/]")
    use = command("train", "--preset", str(output.absolute()))
    user_dir = paths.user_presets_dir()
    if output.absolute().parent == user_dir.absolute():
        out.print(f"Use it with `{safe(use)}`, or pick {safe(output.stem)!r} in the wizard's preset step.")
    else:
        into = command("import-kohya", args.file, "-o", str(user_dir / output.name))
        out.print(
            f"Use it with `{safe(use)}`. The wizard lists presets from {safe(user_dir)}: import it there to pick it "
            f"in the wizard (`{safe(into)}`)."
        )
    return 0
