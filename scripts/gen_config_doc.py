"""Write docs/CONFIG.md from the config schema (a test checks it is current).

python scripts/gen_config_doc.py
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from stylora_tui.config.schema import SECTION_HELP, SECTIONS, Config
from stylora_tui.config.toml_io import config_to_dict

DOC = Path(__file__).resolve().parent.parent / "docs" / "CONFIG.md"


def render() -> str:
    defaults = config_to_dict(Config())
    lines = [
        "# Config keys",
        "",
        "Every key of a stylora-tui config or preset (`schema_version = 1`). A preset sets only what it",
        "changes; everything else keeps the default below. Generated from `stylora_tui/config/schema.py`",
        "by `scripts/gen_config_doc.py`.",
        "",
        "Problems are reported all at once with stable codes: `config-unknown-key` (with a did-you-mean",
        "hint), `config-type`, `config-range`, `config-choice`, `config-alpha` (alpha above dim),",
        "`config-conflict`, `config-warmup` (warmup not shorter than the run), `config-schema-version`.",
        "",
    ]
    for section, cls in SECTIONS.items():
        lines += [f"## [{section}]: {SECTION_HELP[section]}", "", "| key | default | meaning |", "| --- | --- | --- |"]
        for spec in fields(cls):
            default = defaults[section].get(spec.name, "(family default)")
            rules = []
            meta = spec.metadata
            if "choices" in meta:
                rules.append("one of " + ", ".join(map(str, meta["choices"])))
            if "min" in meta:
                rules.append(f"≥ {meta['min']}")
            if "gt" in meta:
                rules.append(f"> {meta['gt']}")
            if "max" in meta:
                rules.append(f"≤ {meta['max']}")
            if meta.get("multiple_of"):
                rules.append(f"multiple of {meta['multiple_of']}")
            extra = f" ({'; '.join(rules)})" if rules else ""
            lines.append(f"| `{spec.name}` | `{default!r}` | {meta['help']}{extra} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    DOC.write_text(render(), encoding="utf-8")
    print(f"wrote {DOC}")
