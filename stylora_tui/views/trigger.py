"""The trigger word checked on the terminal as the wizard checks it (the real CLIP
tokenizer, the family's reserved words): every finding said, an error verdict refusing.
`captions --add-trigger` and `tag` ask it before they write anything."""

from __future__ import annotations

from stylora_tui.config.families import FAMILIES, get_family
from stylora_tui.dataset.tokens import check_trigger
from stylora_tui.display import printable
from stylora_tui.views.console import console


def trigger_refused(word: str, family: str) -> bool:
    """The trigger checked as the wizard checks it: an error verdict stops here."""
    from stylora_tui.integrations.clip_tokenizer import load_for_model

    tokenizer, _ = load_for_model(None)
    report = check_trigger(word, tokenizer, get_family(family), FAMILIES)
    err = console(stderr=True)
    for finding in report.findings:
        err.print(
            f"{finding.severity.value} {finding.code}: {printable(finding.message)}\n  hint: {printable(finding.hint)}",
            markup=False,
        )
    return report.verdict == "error"
