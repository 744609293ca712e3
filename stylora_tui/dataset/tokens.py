"""Trigger word and caption token checks, through any CLIP-like tokenizer.

The practice: the trigger must be something the base model does not already know
(`katsushikahokusaistyle`, not `katsushika hokusai style`), first in every caption, and
never a family quality tag. Captions longer than the token limit silently lose tags.
Everything here talks to a `TokenizerLike`, so tests and the TUI can pass a fake and the
CLI loads the real one lazily (integrations/clip_tokenizer.py).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from typing import Protocol

from stylora_tui.config.families import Family
from stylora_tui.dataset.captions import same_tag, split_tags
from stylora_tui.findings import Finding, Severity

CLIP_VOCAB_SIZE = 49408
BOS_ID, EOS_ID = 49406, 49407
CHUNK_TOKENS = 75
WORD_END = "</w>"
MANY_TOKENS = 8

# What A1111/Forge/ComfyUI parse in a prompt: emphasis, alternation, LoRA/embedding
# syntax, escapes, and the keywords that split prompts.
PROMPT_SYNTAX = re.compile(r"[()\[\]{}:,|<>\\]")
PROMPT_KEYWORDS = re.compile(r"\b(BREAK|AND)\b")


@dataclass(frozen=True)
class TokenPieces:
    ids: tuple[int, ...]
    pieces: tuple[str, ...]


class TokenizerLike(Protocol):
    def encode(self, text: str) -> TokenPieces: ...

    def count_batch(self, texts: list[str]) -> list[int]: ...

    def token_starts_batch(self, texts: list[str]) -> list[list[int]]:
        """For each text, the start offset (in characters of the text) of each of its tokens."""
        ...


@dataclass(frozen=True)
class TriggerReport:
    trigger: str
    verdict: str  # "ok" | "warn" | "error"
    tokens: TokenPieces
    findings: tuple[Finding, ...]
    suggestions: tuple[str, ...] = ()

    def to_json(self) -> dict:
        return {
            "trigger": self.trigger,
            "verdict": self.verdict,
            "tokens": {"ids": list(self.tokens.ids), "pieces": list(self.tokens.pieces)},
            "findings": [{k: v for k, v in f.to_json().items() if k != "path"} for f in self.findings],
            "suggestions": list(self.suggestions),
        }


def verdict_of(findings) -> str:
    severities = {f.severity for f in findings}
    if Severity.ERROR in severities:
        return "error"
    if Severity.WARNING in severities:
        return "warn"
    return "ok"


def _warn(code: str, message: str, hint: str) -> Finding:
    return Finding(Severity.WARNING, code, message, hint)


def _error(code: str, message: str, hint: str) -> Finding:
    return Finding(Severity.ERROR, code, message, hint)


def _whole_word_only(tokens: TokenPieces) -> bool:
    """Every BPE piece is a complete word the model has its own token for."""
    return bool(tokens.pieces) and all(p.endswith(WORD_END) for p in tokens.pieces)


def _joined(trigger: str) -> str:
    return re.sub(r"[^0-9a-z]", "", trigger.lower())


def _family_reserved(word: str, family: Family, families: dict[str, Family]) -> Family | None:
    """The family whose quality tag this is (Pony's score_*, source_*, rating_*)."""
    lowered = word.lower().replace(" ", "_")
    for candidate in (family, *families.values()):
        if any(lowered.startswith(prefix) for prefix in candidate.reserved_prefixes):
            return candidate
    return None


def check_trigger(
    trigger: str,
    tokenizer: TokenizerLike,
    family: Family,
    families: dict[str, Family],
    dataset_captions: list[str] | None = None,
    *,
    suggest: bool = True,
) -> TriggerReport:
    """Every rule at once; suggestions are candidates that pass every rule."""
    findings: list[Finding] = []
    stripped = trigger.strip()
    tokens = tokenizer.encode(stripped) if stripped else TokenPieces((), ())
    if not stripped:
        findings.append(
            _error(
                "trigger-empty",
                "the trigger is empty",
                "choose one made-up word the model does not know, e.g. your artist name run together plus 'style'",
            )
        )
        return TriggerReport(trigger, "error", tokens, tuple(findings))

    reserved = _family_reserved(stripped, family, families)
    findings += _meaning_findings(stripped, family, families, reserved)
    findings += _shape_findings(stripped, tokens, reserved)
    findings += _dataset_findings(stripped, dataset_captions)
    suggestions: tuple[str, ...] = ()
    if suggest and any(f.severity is not Severity.INFO for f in findings):
        suggestions = tuple(_suggestions(stripped, tokenizer, family, families, dataset_captions))
    return TriggerReport(trigger, verdict_of(findings), tokens, tuple(findings), suggestions)


def _meaning_findings(stripped: str, family: Family, families: dict[str, Family], reserved: Family | None) -> list[Finding]:
    """What the WebUIs or the base model would read into the word: prompt syntax, quality tags."""
    findings: list[Finding] = []
    if PROMPT_SYNTAX.search(stripped) or PROMPT_KEYWORDS.search(stripped):
        found = sorted(set(PROMPT_SYNTAX.findall(stripped)) | set(PROMPT_KEYWORDS.findall(stripped)))
        findings.append(
            _error(
                "trigger-prompt-syntax",
                f"the trigger contains prompt syntax the WebUIs parse: {' '.join(found)}",
                "brackets, ':', ',', '|', '<>', backslashes, BREAK and AND change how a prompt is read; use letters and digits only",
            )
        )
    if reserved is not None:
        findings.append(
            _error(
                "trigger-quality-tag",
                f"{stripped!r} is one of {reserved.label}'s quality tags",
                "quality tags are added after the trigger automatically; choose a new made-up word",
            )
        )
    known_quality = [t for f in (family, *families.values()) for t in f.known_quality_tags]
    if any(same_tag(stripped, tag) for tag in known_quality):
        findings.append(
            _warn(
                "trigger-quality-word",
                f"{stripped!r} is a quality, aesthetic or period tag anime SDXL bases already react to",
                "it would wake the model's idea of quality, not your style; choose a new made-up word",
            )
        )
    return findings


def _shape_findings(stripped: str, tokens: TokenPieces, reserved: Family | None) -> list[Finding]:
    """How the word tokenises: several words, whole-word tokens the model knows, non-ASCII, too many tokens."""
    findings: list[Finding] = []
    words = stripped.split()
    if len(words) > 1:
        findings.append(
            _warn(
                "trigger-several-words",
                f"the trigger has {len(words)} words; each one wakes what the model already knows about it",
                f"run them together as one word: {_joined(stripped)!r}",
            )
        )
    if _whole_word_only(tokens) and reserved is None:
        known = ", ".join(p[: -len(WORD_END)] for p in tokens.pieces)
        findings.append(
            _warn(
                "trigger-known-words",
                f"the model already has whole-word tokens for this trigger ({known}): it knows it",
                "use a made-up word that splits into word pieces, e.g. with 'style' appended and no spaces",
            )
        )
    if not stripped.isascii():
        findings.append(
            _warn(
                "trigger-non-ascii",
                "the trigger has non-ASCII characters; CLIP splits them into rare byte tokens and keyboards differ",
                "use ASCII letters and digits",
            )
        )
    if len(tokens.ids) > MANY_TOKENS:
        findings.append(
            _warn(
                "trigger-many-tokens",
                f"the trigger is {len(tokens.ids)} tokens; it takes that much from every caption's {CHUNK_TOKENS}-token chunks",
                f"shorten it to {MANY_TOKENS} tokens or fewer",
            )
        )
    return findings


def _dataset_findings(stripped: str, dataset_captions: list[str] | None) -> list[Finding]:
    """The word already used as an ordinary tag in the dataset's captions."""
    findings: list[Finding] = []
    if dataset_captions:
        used = sum(1 for caption in dataset_captions if any(same_tag(t, stripped) for t in split_tags(caption)[1:]))
        if used:
            findings.append(
                _warn(
                    "trigger-used-as-tag",
                    f"{stripped!r} already appears as an ordinary tag (not first) in {used} caption(s)",
                    "the trigger should mean only your style: choose a word the captions do not use, or put it first",
                )
            )
    return findings


def _suggestions(trigger, tokenizer, family, families, captions) -> list[str]:
    """Made-up single words from the user's own letters that pass every rule."""
    base = re.sub(r"[^a-z]", "", trigger.lower())
    for prefix in families_prefixes(families):
        bare = re.sub(r"[^a-z]", "", prefix)
        if base.startswith(bare):
            base = base[len(bare) :]
    base = base[:24]
    stem = base[: -len("style")] if base.endswith("style") else base
    candidates = [base, f"{stem}style", f"{stem}art", f"my{stem}style", f"{stem}stl", "mystylexl"] if len(stem) >= 3 else []
    candidates += ["mystylexl", "myartstyle", "stylorastyle"]
    passing = []
    for candidate in dict.fromkeys(c for c in candidates if c):
        report = check_trigger(candidate, tokenizer, family, families, captions, suggest=False)
        if report.verdict == "ok":
            passing.append(candidate)
        if len(passing) == 3:
            break
    return passing


def families_prefixes(families: dict[str, Family]) -> list[str]:
    return [p for f in families.values() for p in f.reserved_prefixes]


# ---------------------------------------------------------------- caption budget


@dataclass(frozen=True)
class CaptionBudget:
    path: str
    tokens: int
    limit: int
    lost_tags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def too_long(self) -> bool:
        return self.tokens > self.limit


def caption_budgets(captions: list[tuple[str, tuple[str, ...]]], tokenizer: TokenizerLike, limit: int) -> list[CaptionBudget]:
    """Token length of each caption as trained (`tags` in training order) against `limit`.

    One encoding per caption, with offsets: a tag is lost when its last token ends past
    the limit. With shuffling the lost ones change every step, but as many are lost each time.
    """
    texts = [", ".join(tags) for _, tags in captions]
    results = []
    for (path, tags), starts in zip(captions, tokenizer.token_starts_batch(texts)):
        lost: tuple[str, ...] = ()
        if len(starts) > limit:
            lost_list, position = [], 0
            for tag in tags:
                tag_end = position + len(tag)
                # The tokens that begin inside or before the tag (a character may be several
                # byte tokens; punctuation may merge with the comma after it).
                if bisect.bisect_left(starts, tag_end) > limit:
                    lost_list.append(tag)
                position = tag_end + 2  # ", "
            lost = tuple(lost_list)
        results.append(CaptionBudget(path, len(starts), limit, lost))
    return results
