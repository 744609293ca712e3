"""Caption findings: missing, empty, unreadable, badly encoded or too large captions, a
trigger or quality tags out of place, and captions longer than the token limit (the tags
past it are lost). Part of the dataset doctor."""

from __future__ import annotations

import shlex

from stylora_tui.config.schema import MAX_TOKEN_LENGTHS, Config
from stylora_tui.dataset.captions import same_tag, split_tags, training_caption
from stylora_tui.dataset.scan import MAX_CAPTION_BYTES
from stylora_tui.dataset.tokens import TokenizerLike, caption_budgets
from stylora_tui.findings import Finding, Severity


def _f(severity: Severity, code: str, path: str, message: str, hint: str) -> Finding:
    return Finding(severity, code, message, hint, path)


def caption_findings(images, config: Config, tokenizer: TokenizerLike | None, add) -> None:
    budget_inputs = []
    for image in images:
        tags = _caption_tags(image, config, add)
        if tags is not None:
            budget_inputs.append((image.rel, tags))
    if tokenizer is not None and budget_inputs:
        _length_findings(budget_inputs, config, tokenizer, add)


def _caption_file_readable(image, config: Config, add) -> bool:
    """The findings of one image's caption file; whether it holds text to train on."""
    caption = image.caption
    if caption is None:
        add(
            _f(
                Severity.WARNING,
                "missing-caption",
                image.rel,
                f"no {config.dataset.caption_extension} caption beside it: it trains on the trigger alone",
                "tag the uncaptioned images into a new folder: `stylora-tui tag DATASET -o NEW --trigger T --keep-existing` "
                "(the wizard's dataset step offers it), or write its caption",
            )
        )
        return False
    if caption.unreadable:
        code, why = caption.unreadable
        add(
            _f(
                Severity.ERROR,
                code,
                image.rel,
                f"caption {caption.path.name}: {why}",
                "make it a plain text file you can read (check its permissions), or remove it",
            )
        )
        return False
    if caption.size_bytes > MAX_CAPTION_BYTES:
        add(
            _f(
                Severity.WARNING,
                "caption-too-large",
                image.rel,
                f"caption {caption.path.name} is {caption.size_bytes >> 10} KiB: only its first {MAX_CAPTION_BYTES >> 10} KiB are read",
                "a caption is a list of tags (a few hundred bytes): is this the right file?",
            )
        )
    if caption.encoding_problem:
        add(
            _f(
                Severity.ERROR if caption.encoding_fatal else Severity.WARNING,
                "caption-encoding",
                image.rel,
                f"caption {caption.path.name}: {caption.encoding_problem}",
                _encoding_hint(caption),
            )
        )
        if caption.encoding_fatal:
            return False
    return True


def _caption_tags(image, config: Config, add) -> tuple[str, ...] | None:
    """The findings of one image's caption, and its tags as training arranges them (None when
    there are none to count: no caption, or one that cannot be read)."""
    if not _caption_file_readable(image, config, add):
        return None
    caption = image.caption
    caps = config.captions
    trigger = caps.trigger.strip()
    quality = config.quality_tags
    tags = split_tags(caption.text)
    if not tags:
        add(
            _f(
                Severity.WARNING,
                "empty-caption",
                image.rel,
                f"caption {caption.path.name} is empty: it trains on the trigger alone",
                "tag the image; for a style adapter keep all the tags",
            )
        )
        return None
    if trigger and not same_tag(tags[0], trigger):
        where = "appears later" if any(same_tag(t, trigger) for t in tags) else "is missing"
        add(
            _f(
                Severity.WARNING,
                "trigger-missing",
                image.rel,
                f"caption does not start with the trigger {trigger!r} (it {where})",
                "stylora-tui puts it first when training; write it first so every tool agrees",
            )
        )
    if quality:
        absent = [q for q in quality if not any(same_tag(t, q) for t in tags)]
        if absent:
            add(
                _f(
                    Severity.WARNING,
                    "quality-tags-missing",
                    image.rel,
                    f"caption lacks the quality tags {', '.join(absent)}",
                    "stylora-tui adds them after the trigger when training; add them so other tools agree",
                )
            )
    arranged = training_caption(
        caption.text,
        trigger=trigger,
        quality_tags=quality,
        keep_tokens=caps.keep_tokens,
        keep_tokens_separator=caps.keep_tokens_separator,
    )
    return arranged.tags


def _length_findings(budget_inputs: list, config: Config, tokenizer: TokenizerLike, add) -> None:
    """Captions longer than the token limit: which tags are lost."""
    caps = config.captions
    longer = [str(n) for n in MAX_TOKEN_LENGTHS if n > caps.max_token_length]
    raise_it = (
        f", or raise captions.max_token_length to {' or '.join(longer)}"
        if longer
        else f" ({caps.max_token_length} is the most any trainer reads)"
    )
    for budget in caption_budgets(budget_inputs, tokenizer, caps.max_token_length):
        if budget.too_long:
            lost = ", ".join(budget.lost_tags[:8]) + (" ..." if len(budget.lost_tags) > 8 else "")
            shuffled = " (with shuffling, a different tail is lost each step)" if caps.shuffle else ""
            add(
                _f(
                    Severity.WARNING,
                    "caption-too-long",
                    budget.path,
                    f"{budget.tokens} tokens > {budget.limit}: {len(budget.lost_tags)} tag(s) lost{shuffled}: {lost}",
                    f"drop weak tags{raise_it}",
                )
            )


def _encoding_hint(caption) -> str:
    if not caption.detected_encoding:
        return "remove the byte-order mark: 'Save as UTF-8' (without BOM) in your editor, or sed -i '1s/^\\xEF\\xBB\\xBF//' FILE"
    name = shlex.quote(caption.path.name)
    fixed = shlex.quote(caption.path.stem + ".utf8" + caption.path.suffix)
    return (
        f"re-save it as UTF-8: iconv -f {caption.detected_encoding} -t UTF-8 {name} > {fixed} && mv {fixed} {name} "
        "(in a copy of the dataset), or 'Save as UTF-8' in your editor"
    )
