"""How each family's users generate, so previews look like what they will get: the quality
prefix and negative prompt their model card tells them to write, its guidance scale, sampler
and steps; and for v-prediction with zero terminal SNR, trailing timesteps and guidance
rescale (without which it over-saturates: ZTSNR paper, section 3.4). Every value says where
it comes from; `[samples]` overrides any of them.

The prompts previews test are what the practice worried about: the trigger on the dataset's
own kind of subject, the trigger on subjects the dataset lacks (is it a style, or the
training images?), and the dataset's subject without the trigger (the base must be unchanged).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from stylora_tui.config.schema import Config

# As A1111/Forge write them in a PNG's parameters.
SAMPLER_NAMES = {"euler_a": "Euler a", "euler": "Euler", "dpmpp_2m_karras": "DPM++ 2M Karras"}
ZTSNR_GUIDANCE_RESCALE = 0.7


@dataclass(frozen=True)
class CardDefaults:
    prefix: str  # quality/period tags the card puts in every prompt
    negative: str
    guidance_scale: float
    sampler: str
    source: str
    prefix_first: bool = True  # Animagine's card ends the prompt with its quality tags


DANBOORU_NEGATIVE = (
    "worst quality, low quality, normal quality, lowres, bad anatomy, bad hands, text, error, missing fingers, extra digits, "
    "fewer digits, cropped, signature, watermark, username, blurry"
)
CARDS = {
    "pony": CardDefaults(
        "score_9, score_8_up, score_7_up, source_anime",
        "score_4, score_5, score_6, source_pony, source_furry",
        7.0,
        "euler_a",
        "Pony Diffusion V6 XL card, https://civitai.com/models/257749 (score tags first, Euler a, 25 steps)",
    ),
    "animagine": CardDefaults(
        "masterpiece, high score, great score, absurdres",
        "lowres, bad anatomy, bad hands, text, error, missing fingers, extra digit, fewer digits, cropped, worst quality, "
        "low quality, low score, bad score, average score, signature, watermark, username, blurry",
        5.0,
        "euler_a",
        "Animagine XL 4.0 card, https://huggingface.co/cagliostrolab/animagine-xl-4.0 (CFG 5, Euler a, 28 steps)",
        prefix_first=False,
    ),
    "illustrious": CardDefaults(
        "masterpiece, best quality, newest, absurdres, highres",
        DANBOORU_NEGATIVE,
        5.5,
        "euler_a",
        "Illustrious-XL card, https://huggingface.co/OnomaAIResearch/Illustrious-xl-early-release-v0 (CFG 5-7.5, Euler a)",
    ),
    "noobai": CardDefaults(
        "masterpiece, best quality, newest, absurdres, highres",
        "nsfw, worst quality, old, early, low quality, lowres, signature, username, logo, bad hands, mutated hands, "
        "mammal, anthro, furry, ambiguous form, feral, semi-anthro",
        5.0,
        "euler_a",
        "NoobAI-XL card, https://huggingface.co/Laxhar/noobai-XL-1.1 (CFG 5-6, Euler a, 28 steps)",
    ),
    "other": CardDefaults(
        "",
        "lowres, worst quality, low quality, blurry, watermark, text",
        7.0,
        "euler_a",
        "SDXL 1.0 base card, https://huggingface.co/stabilityai/stable-diffusion-xl-base-1.0",
    ),
}
# NoobAI-XL V-Pred's card: CFG 4-5, plain Euler (not ancestral), guidance rescale 0.7.
V_PREDICTION_CARD = CardDefaults(
    CARDS["noobai"].prefix,
    CARDS["noobai"].negative,
    4.5,
    "euler",
    "NoobAI-XL V-Pred card, https://huggingface.co/Laxhar/noobai-XL-Vpred-1.0 (CFG 4-5, Euler, rescale 0.7)",
)

# Subjects a style adapter must carry over to; the ones the dataset already shows are skipped.
OTHER_SUBJECTS = (
    ("scenery", "landscape", "mountain", "river", "sky", "no humans"),
    ("still life", "flower", "vase", "table", "no humans"),
    ("1boy", "solo", "upper body", "looking at viewer"),
    ("cat", "animal focus", "outdoors", "no humans"),
    ("city", "street", "building", "night", "no humans"),
    ("food", "food focus", "cake", "plate", "no humans"),
    ("mecha", "robot", "science fiction", "no humans"),
    ("car", "motor vehicle", "road", "no humans"),
)
SUBJECT_TAGS = 6


@dataclass(frozen=True)
class Sampling:
    """How one save's previews are rendered, every value decided."""

    prompts: tuple[str, ...]
    kinds: tuple[str, ...]  # per prompt: "dataset", "other subject", "no trigger", or "custom"
    negative: str
    guidance_scale: float
    guidance_rescale: float
    sampler: str
    steps: int
    strength: float
    source: str  # where the defaults come from


def card_for(family: str, prediction_type: str) -> CardDefaults:
    return V_PREDICTION_CARD if prediction_type == "v_prediction" else CARDS.get(family, CARDS["other"])


def sampling_for(config: Config, prediction_type: str, zero_terminal_snr: bool, tag_frequency: dict) -> Sampling:
    """The previews' settings: [samples] where set, else the family's card; the prompts from
    [samples] or built from the dataset's own tags (`tag_frequency`: {folder: {tag: count}})."""
    samples = config.samples
    card = card_for(config.model.family, prediction_type)
    prefix = card.prefix if samples.prefix == "auto" else samples.prefix
    if samples.prompts:
        prompts, kinds = tuple(samples.prompts), ("custom",) * len(samples.prompts)
    else:
        prompts, kinds = default_prompts(config, prefix, card.prefix_first, tag_frequency)
    rescale = samples.guidance_rescale
    if rescale < 0:
        rescale = ZTSNR_GUIDANCE_RESCALE if zero_terminal_snr else 0.0
    return Sampling(
        prompts=prompts,
        kinds=kinds,
        negative=card.negative if samples.negative_prompt == "auto" else samples.negative_prompt,
        guidance_scale=samples.guidance_scale or card.guidance_scale,
        guidance_rescale=rescale,
        sampler=card.sampler if samples.sampler == "auto" else samples.sampler,
        steps=samples.steps,
        strength=samples.strength,
        source=card.source,
    )


def default_prompts(
    config: Config, prefix: str, prefix_first: bool, tag_frequency: dict
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The trigger on the dataset's own subject, on two subjects it lacks, and the dataset's
    subject without the trigger; the card's prefix where the card puts it, less the tags the
    captions already carry (Pony's score tags follow the trigger, as trained)."""
    trigger = config.captions.trigger.strip()
    pinned = {t.lower() for t in (trigger, *config.quality_tags)}
    quality = [t for t in _split(prefix) if t.lower() not in pinned]
    reserved = pinned | {t.lower() for t in quality}
    counts: Counter = Counter()
    for tags in tag_frequency.values():
        counts.update({tag: n for tag, n in tags.items() if tag.lower() not in reserved})
    own = [tag for tag, _ in counts.most_common(SUBJECT_TAGS)] or ["1girl", "solo", "upper body"]
    seen = {tag.lower() for tag in counts}
    others = [subject for subject in OTHER_SUBJECTS if not any(tag in seen for tag in subject[:2])][:2]
    head = [t for t in (trigger, *config.quality_tags) if t]

    def prompt(*parts) -> str:
        return ", ".join((*quality, *parts) if prefix_first else (*parts, *quality))

    prompts = [prompt(*head, *own)]
    prompts += [prompt(*head, *subject) for subject in others]
    prompts.append(prompt(*config.quality_tags, *own))
    return tuple(prompts), ("dataset",) + ("other subject",) * len(others) + ("no trigger",)


def _split(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]
