"""Captions as they will be trained: trigger first, quality tags, pinned tags, shuffled rest.

One place for the rule, used by the trainer, the dataset check and the trigger preview,
so what the wizard shows is what the model sees.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass


def split_tags(text: str) -> list[str]:
    """Comma-separated tags, stripped, empties dropped (newlines count as commas)."""
    text = text.replace("\r", "\n").replace("\n", ",")
    return [tag.strip() for tag in text.split(",") if tag.strip()]


def same_tag(a: str, b: str) -> bool:
    """Tags compare case-insensitively, with `_` and space equivalent (Danbooru style)."""
    return _norm(a) == _norm(b)


def _norm(tag: str) -> str:
    return unicodedata.normalize("NFC", tag).strip().lower().replace("_", " ")


@dataclass(frozen=True)
class TrainingCaption:
    pinned: tuple[str, ...]  # never moved by shuffling: trigger, quality tags, kept tags
    shuffled: tuple[str, ...]  # reordered every step when shuffling is on

    def text(self, rng: random.Random | None = None) -> str:
        rest = list(self.shuffled)
        if rng is not None:
            rng.shuffle(rest)
        return ", ".join((*self.pinned, *rest))

    @property
    def tags(self) -> tuple[str, ...]:
        return (*self.pinned, *self.shuffled)


def training_caption(
    text: str,
    *,
    trigger: str = "",
    quality_tags: tuple[str, ...] = (),
    keep_tokens: int = 1,
    keep_tokens_separator: str = "",
) -> TrainingCaption:
    """Arrange a caption for training.

    The trigger goes first and the family's quality tags right after it, wherever the
    caption had them (and they are added when missing); both are always pinned. Then
    `keep_tokens` counts the pinned tags from the front, the trigger included, so the
    practice's keep_tokens = 1 pins just the trigger. A `keep_tokens_separator` in the
    caption pins everything before it instead.
    """
    head_tags: list[str] = []
    if keep_tokens_separator and keep_tokens_separator in text:
        before, after = text.split(keep_tokens_separator, 1)
        head_tags, body = split_tags(before), split_tags(after)
        explicit_keep = True
    else:
        body = split_tags(text)
        explicit_keep = False
    special = [t for t in (trigger, *quality_tags) if t]
    head_tags = [t for t in head_tags if not any(same_tag(t, s) for s in special)]
    body = [t for t in body if not any(same_tag(t, s) for s in special)]
    if explicit_keep:
        return TrainingCaption(tuple(special + head_tags), tuple(body))
    kept_from_caption = max(0, keep_tokens - (1 if trigger else 0))
    return TrainingCaption(tuple(special + body[:kept_from_caption]), tuple(body[kept_from_caption:]))
