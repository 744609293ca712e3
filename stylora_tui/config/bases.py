"""The base models stylora-tui knows by name: where each lives on the hub, its family, and
what it predicts (from its model card), so none of it depends on marker keys a file may
lack. Downloading them is integrations.hub's job; this is only what they are."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

EPSILON, V_PREDICTION = "epsilon", "v_prediction"


@dataclass(frozen=True)
class KnownBase:
    repo: str
    file: str | None  # preferred file at the repo's root; None = the only root .safetensors
    family: str
    label: str
    prediction_type: str = EPSILON
    zero_terminal_snr: bool = False


KNOWN_BASES = {
    "animagine-xl-4.0": KnownBase(
        "cagliostrolab/animagine-xl-4.0", "animagine-xl-4.0.safetensors", "animagine", "Animagine XL 4.0"
    ),
    "illustrious-xl-0.1": KnownBase(
        "OnomaAIResearch/Illustrious-xl-early-release-v0", "Illustrious-XL-v0.1.safetensors", "illustrious", "Illustrious-XL v0.1"
    ),
    "noobai-xl-1.1": KnownBase("Laxhar/noobai-XL-1.1", None, "noobai", "NoobAI-XL 1.1 (epsilon)"),
    # The card: v-prediction trained with zero terminal SNR.
    "noobai-xl-vpred-1.0": KnownBase(
        "Laxhar/noobai-XL-Vpred-1.0", None, "noobai", "NoobAI-XL V-Pred 1.0 (v-prediction)", V_PREDICTION, True
    ),
}
# Pony Diffusion V6 XL is published on CivitAI only: named, it gets directions, not a download.
NOT_ON_THE_HUB = {
    "pony-v6": "Pony Diffusion V6 XL is published on CivitAI, not the hub: download "
    "ponyDiffusionV6XL_v6StartWithThisOne.safetensors from https://civitai.com/models/257749 "
    "(on the rental: wget/curl with your CivitAI API token) and pass its path",
}


def known_base_at(path: str | Path) -> KnownBase | None:
    """The known base a path was downloaded as: a file or folder inside the hub cache's
    `models--ORG--REPO` folder of one of them (the path `--model NAME` resolves to)."""
    for part in Path(str(path)).parts:
        if part.startswith("models--"):
            repo = part[len("models--") :].replace("--", "/", 1).lower()
            return next((k for k in KNOWN_BASES.values() if k.repo.lower() == repo), None)
    return None
