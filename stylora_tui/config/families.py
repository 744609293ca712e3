"""Base model families and what each means for training (FIELD-NOTES, Parts 1 and 3).

Pony needs its quality tags in every caption; Animagine, Illustrious and NoobAI react to
their own quality, aesthetic and period tags, which a trigger must never be. NoobAI-XL
has epsilon and v-prediction releases: the v-prediction ones are told apart by their
checkpoint's `v_pred` key (model.files.detect_prediction), not by the family.
"""

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

# Danbooru-trained anime bases (Illustrious-XL, NoobAI-XL) react to these; their captions
# are Danbooru tags, and NoobAI adds its own aesthetic ("very awa") and year tags.
DANBOORU_QUALITY = (
    "masterpiece",
    "best quality",
    "high quality",
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
    "lowres",
    "newest",
    "recent",
    "mid",
    "early",
    "old",
    "oldest",
)
YEARS = tuple(f"year {y}" for y in range(2005, 2027))

ILLUSTRIOUS = Family(
    name="illustrious",
    label="Illustrious-XL",
    summary=(
        "Illustrious-XL (OnomaAI) and its fine-tunes: Danbooru tags; its quality and period words "
        "(masterpiece, best quality, absurdres, newest) stay out of the trigger. Train on the base you generate with."
    ),
    quality_tags=(),
    known_quality_tags=DANBOORU_QUALITY + YEARS,
    filename_hints=("illustrious", "illustriousxl", "ilxl"),
)

NOOBAI = Family(
    name="noobai",
    label="NoobAI-XL",
    summary=(
        "NoobAI-XL (Laxhar Lab, built on Illustrious): epsilon and v-prediction releases; a V-Pred "
        "checkpoint is detected from its v_pred key and trained with the v target. Its quality, aesthetic "
        "(very awa) and year tags stay out of the trigger."
    ),
    quality_tags=(),
    known_quality_tags=DANBOORU_QUALITY + YEARS + ("very awa", "worst aesthetic"),
    filename_hints=("noobai", "noob"),
)

OTHER = Family(
    name="other",
    label="Other SDXL",
    summary=(
        "Any other SDXL 1.0 checkpoint (base or a fine-tune): train on the original you will "
        "generate with; a fine-tune that already leans to the look can help."
    ),
    quality_tags=(),
    filename_hints=("sdxl", "sd_xl"),
)

FAMILIES: dict[str, Family] = {f.name: f for f in (PONY, ANIMAGINE, ILLUSTRIOUS, NOOBAI, OTHER)}


def get_family(name: str) -> Family:
    return FAMILIES[name]


def detect_family(model_path: str | Path) -> str | None:
    """Guess the family from a checkpoint's file or folder name; None when it says nothing."""
    stem = Path(str(model_path)).name.lower()
    # NoobAI before Illustrious: NoobAI file names often say both ("noobaiXL ... illustrious").
    for family in (PONY, ANIMAGINE, NOOBAI, ILLUSTRIOUS, OTHER):
        if any(hint in stem for hint in family.filename_hints):
            return family.name
    return None
