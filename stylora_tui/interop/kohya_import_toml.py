"""The imported kohya_ss preset written as a commented stylora preset: what was carried
over as settings, and what was not (with why) as comments a reader sees first."""

from __future__ import annotations

import json
from pathlib import Path

from stylora_tui.display import printable
from stylora_tui.interop.kohya_import import KohyaImport


def import_to_toml(result: KohyaImport) -> str:
    """The imported preset as commented TOML, listing what was not carried over."""
    import tomlkit

    def comment(text: str) -> None:
        # A key or value from the JSON can hold control characters or line breaks: written
        # out, a comment stays one comment line.
        doc.add(tomlkit.comment(printable(text)))

    doc = tomlkit.document()
    comment(f"Imported from the kohya_ss GUI preset {Path(result.source).name} by stylora-tui import-kohya.")
    for warning in result.warnings:
        comment(f"WARNING: {warning}")
    for note in result.notes:
        comment(f"note: {note}")
    if result.unmapped:
        comment("Not carried over (no equivalent in stylora-tui):")
        for key, value, reason in result.unmapped:
            comment(f"  {key} = {json.dumps(value, ensure_ascii=False)}: {reason}")
    doc.add("schema_version", 1)
    for section, values in result.data.items():
        table = tomlkit.table()
        for key, value in values.items():
            table.add(key, value)
        doc.add(section, table)
    return tomlkit.dumps(doc)
