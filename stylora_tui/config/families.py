"""Base model families and what each means for training (FIELD-NOTES, Part 1)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Family:
    name: str
    label: str
    summary: str
    quality_tags: tuple[str, ...]
    # Tags the base model already reacts to as quality markers: a trigger must not be one.
    reserved_prefixes: tuple[str, ...] = ()
    known_quality_tags: tuple[str, ...] = ()
    filename_hints: tuple[str, ...] = ()


PONY = Family(
    name="pony",
    label="Pony Diffusion XL",
    summary=(
        "Pony needs its quality tags in every caption, after the trigger "
        "(score_9, score_8_up, score_7_up, source_anime); they are pinned so shuffling never moves them."
    ),
    quality_tags=("score_9", "score_8_up", "score_7_up", "source_anime"),
    reserved_prefixes=("score_", "source_", "rating_"),
    filename_hints=("pony",),
)

ANIMAGINE = Family(
    name="animagine",
    label="Animagine XL",
    summary=(
        "Train on the model you will generate with, on the original base rather than a "
        "merge; Animagine's quality words (masterpiece, best quality) stay out of the trigger."
    ),
    quality_tags=(),
    known_quality_tags=(
        "masterpiece",
        "best quality",
        "high quality",
        "great quality",
        "good quality",
        "normal quality",
        "low quality",
        "worst quality",
        "very aesthetic",
        "aesthetic",
        "displeasing",
        "very displeasing",
        "absurdres",
        "highres",
        "newest",
        "recent",
        "mid",
        "early",
        "oldest",
    ),
    filename_hints=("animagine",),
)

OTHER = Family(
    name="other",
    label="Other SDXL",
    summary=(
        "Any SDXL 1.0 checkpoint (base, Illustrious, NoobAI, a fine-tune): train on the "
        "original you will generate with; a fine-tune that already leans to the look can help."
    ),
    quality_tags=(),
    filename_hints=("illustrious", "noob", "sdxl", "sd_xl"),
)

FAMILIES: dict[str, Family] = {f.name: f for f in (PONY, ANIMAGINE, OTHER)}


def get_family(name: str) -> Family:
    return FAMILIES[name]


def detect_family(model_path: str | Path) -> str | None:
    """Guess the family from a checkpoint's file or folder name; None when it says nothing."""
    stem = Path(str(model_path)).name.lower()
    for family in (PONY, ANIMAGINE):
        if any(hint in stem for hint in family.filename_hints):
            return family.name
    if any(hint in stem for hint in OTHER.filename_hints):
        return OTHER.name
    return None
