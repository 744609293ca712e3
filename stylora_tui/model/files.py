"""Facts about a base-model path that need no torch: exists, right kind, never a pickle,
and which prediction type it was trained for."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from stylora_tui.config.bases import EPSILON, V_PREDICTION, known_base_at
from stylora_tui.errors import ModelError
from stylora_tui.model.hashes import DEMO

PICKLE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin", ".pkl")
# A name that says v-prediction (noobaiXLVpred, ...-v-pred, v_prediction): without markers
# to confirm it, neither "epsilon" nor "v" can be assumed.
SAYS_V_PREDICTION = re.compile(r"v[-_ ]?pred", re.IGNORECASE)
# The empty marker tensors NoobAI-style v-prediction checkpoints carry; ComfyUI and Forge
# read them to switch their samplers.
V_PRED_KEY, ZTSNR_KEY = "v_pred", "ztsnr"


def check_model_path(path: str) -> str:
    """The path as given when usable ('demo' included); ModelError with the reason if not."""
    if not path:
        raise ModelError(
            "no base model given", "pass --model PATH (a .safetensors SDXL checkpoint or a diffusers folder), or --model demo"
        )
    if path == DEMO:
        return path
    resolved = Path(path).expanduser()
    if resolved.suffix.lower() in PICKLE_SUFFIXES:
        raise ModelError(
            f"{resolved.name} is a pickle checkpoint; loading one can run arbitrary code",
            "use the .safetensors version of the model (CivitAI offers it for nearly every SDXL model)",
        )
    if not resolved.exists():
        raise ModelError(f"base model {resolved} does not exist", "check the path; a .safetensors file or a diffusers folder")
    if resolved.is_dir() and not (resolved / "unet").is_dir():
        raise ModelError(
            f"{resolved} is not a diffusers SDXL folder (no unet/)",
            "point at the folder holding model_index.json, or at a .safetensors file",
        )
    if resolved.is_file() and resolved.suffix.lower() != ".safetensors":
        raise ModelError(
            f"{resolved.name} is not a .safetensors checkpoint", "use an SDXL .safetensors file or a diffusers folder"
        )
    if not resolved.is_dir() and not resolved.is_file():
        raise ModelError(f"{resolved} is not a regular file or folder", "point at the .safetensors file itself")
    if resolved.is_file():
        check_sdxl_header(resolved)
    return str(resolved.absolute())


MAX_HEADER_BYTES = 100 << 20
# What a file that is not safetensors starts with: a zip (torch.save since 1.6) or a pickle.
PICKLE_MAGIC = (b"PK\x03\x04", b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")


def read_header(path: Path) -> dict:
    """The .safetensors header (8-byte length, then a JSON object): names, dtypes, shapes, metadata.
    No weights are read."""
    with open(path, "rb") as handle:
        raw = handle.read(8)
        if raw.startswith(PICKLE_MAGIC):
            raise ModelError(
                f"{path.name} is a pickle (a PyTorch .ckpt/.pt file renamed to .safetensors); loading one can run arbitrary code",
                "download the real .safetensors version of the model",
            )
        length = int.from_bytes(raw, "little") if len(raw) == 8 else -1
        if not 0 < length <= MAX_HEADER_BYTES:
            raise ModelError(
                f"{path.name} is not a valid .safetensors file", "re-download it; the file may be truncated or not a model"
            )
        try:
            header = json.loads(handle.read(length))
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise ModelError(f"{path.name} has a damaged .safetensors header", "re-download the file") from None
    if not isinstance(header, dict):
        raise ModelError(f"{path.name} has a damaged .safetensors header (not a table of tensors)", "re-download the file")
    return header


def safetensors_keys(path: Path) -> list[str]:
    return [k for k in read_header(path) if k != "__metadata__"]


def check_sdxl_header(path: Path) -> None:
    """A full SDXL checkpoint in the original (SGM) layout, not a LoRA, a VAE, a UNet alone or SD 1.x."""
    keys = safetensors_keys(path)
    if any(k.startswith(("lora_", "lycoris_")) or ".lora_down." in k or ".lora_A." in k for k in keys[:2000]):
        raise ModelError(
            f"{path.name} is a LoRA/LyCORIS adapter, not a base model",
            "pass the SDXL checkpoint you generate with (Pony, Animagine, ...) as --model",
        )
    has_unet = any(k.startswith("model.diffusion_model.") for k in keys)
    if not has_unet:
        if any(k.startswith(("encoder.", "decoder.", "first_stage_model.")) for k in keys):
            raise ModelError(
                f"{path.name} looks like a VAE, not a full checkpoint",
                "give it as model.vae, and the full SDXL checkpoint as --model",
            )
        if any(k.startswith(("down_blocks.", "mid_block.")) for k in keys):
            raise ModelError(
                f"{path.name} is a UNet alone in diffusers layout (no text encoders, no VAE)",
                "point --model at the whole diffusers folder (the one holding model_index.json), or use a full single-file checkpoint",
            )
        raise ModelError(
            f"{path.name} is not a single-file Stable Diffusion checkpoint",
            "use a full SDXL .safetensors (as CivitAI offers) or a diffusers folder",
        )
    if any(k.startswith("conditioner.embedders.1.") for k in keys):
        return
    if any(k.startswith("cond_stage_model.") for k in keys):
        raise ModelError(
            f"{path.name} is an SD 1.x/2.x checkpoint, not SDXL",
            "stylora-tui trains SDXL 1.0 models (Pony, Animagine, Illustrious, ...)",
        )
    if any(k.startswith("model.diffusion_model.label_emb.") for k in keys):
        raise ModelError(
            f"{path.name} is an SDXL UNet alone (no text encoders, no VAE)",
            "training needs the full checkpoint: use the model's complete .safetensors (about 6.5 GB) or its diffusers folder",
        )
    raise ModelError(
        f"{path.name} is a UNet alone without SDXL's text encoders",
        "use a full SDXL .safetensors checkpoint or a diffusers folder",
    )


def check_vae_path(vae_path: str) -> None:
    """A model.vae that cannot be a VAE is refused before the trainer starts."""
    if not vae_path:
        return
    path = Path(vae_path).expanduser()
    if not path.exists():
        raise ModelError(f"VAE {path} does not exist", "check model.vae, or leave it empty to use the model's own VAE")
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise ModelError(f"VAE {path.name} is a pickle file; loading one can run arbitrary code", "use a .safetensors VAE")
    if path.is_dir():
        folder = path / "vae" if (path / "vae").is_dir() else path
        if not (folder / "config.json").is_file():
            raise ModelError(
                f"{path} is not a diffusers VAE folder (no config.json)",
                "point model.vae at a VAE .safetensors file or a diffusers VAE folder",
            )
        return
    keys = [k for k in read_header(path) if k != "__metadata__"]
    if not any(k.startswith(("encoder.", "decoder.", "first_stage_model.")) for k in keys):
        raise ModelError(
            f"{path.name} is not a VAE (no encoder/decoder weights)",
            "give an SDXL VAE .safetensors (e.g. sdxl_vae.safetensors) as model.vae",
        )


SDXL_UNET_PARAMETERS = 2_567_463_684
# The embedded demo's UNet (built on first use, so not readable before): a test keeps it true.
DEMO_UNET_PARAMETERS = 2_606_340


def unet_parameters(path: str) -> int:
    """The UNet's parameter count, from safetensors headers alone (no weights read); the
    standard SDXL's when the model is not a file or folder we can read."""
    if path == DEMO:
        return DEMO_UNET_PARAMETERS
    resolved = Path(path).expanduser() if path and path != DEMO else None
    try:
        if resolved is not None and resolved.is_file():
            header = read_header(resolved)
            prefix = "model.diffusion_model."
        elif resolved is not None and resolved.is_dir():
            header = {}
            for file in sorted((resolved / "unet").glob("*.safetensors")):
                header.update(read_header(file))
            prefix = ""
        else:
            return SDXL_UNET_PARAMETERS
    except (ModelError, OSError):
        return SDXL_UNET_PARAMETERS
    total = 0
    for key, entry in header.items():
        if key.startswith(prefix) and isinstance(entry, dict) and isinstance(entry.get("shape"), list):
            count = 1
            for side in entry["shape"]:
                count *= side if isinstance(side, int) else 0
            total += count
    return total or SDXL_UNET_PARAMETERS


# ---------------------------------------------------------------- prediction type


@dataclass(frozen=True)
class Prediction:
    """What the base model predicts, and what said so (shown by the wizard and `plan`)."""

    type: str  # EPSILON or V_PREDICTION
    zero_terminal_snr: bool
    source: str
    assumed: bool = False  # nothing in or about the model said it: epsilon by default

    @property
    def label(self) -> str:
        kind = "v-prediction" if self.type == V_PREDICTION else "epsilon"
        return f"{kind}{' + zero terminal SNR' if self.zero_terminal_snr else ''} ({self.source})"


def detect_prediction(path: str) -> Prediction:
    """Read the base model's own markers: a diffusers folder's scheduler config, or a single
    file's `v_pred`/`ztsnr` header keys (and a modelspec prediction type, where written)."""
    if not path or path == DEMO:
        return Prediction(EPSILON, False, "the demo model")
    resolved = Path(path).expanduser()
    marked = _marked_prediction(resolved)
    if marked is not None:
        return marked
    known = known_base_at(resolved)
    if known is not None:
        return Prediction(known.prediction_type, known.zero_terminal_snr, f"{known.label}, a known base (its model card)")
    what = "no scheduler config" if resolved.is_dir() else "no v-prediction marker in the checkpoint"
    return Prediction(EPSILON, False, f"{what}: epsilon assumed", assumed=True)


def _marked_prediction(resolved: Path) -> Prediction | None:
    """What the model says of itself: a diffusers folder's scheduler config, a file's marker
    keys or modelspec; None when it says nothing."""
    if resolved.is_dir():
        config_file = resolved / "scheduler" / "scheduler_config.json"
        try:
            config = json.loads(config_file.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            return None
        if not isinstance(config, dict):
            return None
        kind = V_PREDICTION if config.get("prediction_type") == V_PREDICTION else EPSILON
        return Prediction(kind, bool(config.get("rescale_betas_zero_snr")), "scheduler/scheduler_config.json")
    header = read_header(resolved)
    found = header.get("__metadata__")
    metadata: dict = found if isinstance(found, dict) else {}
    ztsnr = ZTSNR_KEY in header
    if V_PRED_KEY in header:
        return Prediction(V_PREDICTION, ztsnr, f"'{V_PRED_KEY}' key in the checkpoint")
    if metadata.get("modelspec.prediction_type") == "v":
        return Prediction(V_PREDICTION, ztsnr, "modelspec.prediction_type in the checkpoint")
    if metadata.get("modelspec.prediction_type") == "epsilon":
        return Prediction(EPSILON, False, "modelspec.prediction_type in the checkpoint")
    return None


def name_says_v_prediction(path: str) -> str:
    """The part of the model's name (file, folder, or hub repo it was downloaded from) that
    says v-prediction; '' when none does."""
    parts = Path(path).parts
    names = [parts[-1]] if parts else []
    names += [p[len("models--") :] for p in parts if p.startswith("models--")]
    for name in names:
        match = SAYS_V_PREDICTION.search(name)
        if match:
            return name
    return ""


def resolve_prediction(model_path: str, prediction_type: str, zero_terminal_snr) -> Prediction:
    """The config's choice ("auto" reads the model), with zero terminal SNR "auto" following
    the model's own marker. "auto" on a model whose name says v-prediction but which carries
    no marker is refused: trained as epsilon such a model gives noise, and as v an epsilon
    model does; only the user can say which it is."""
    detected = detect_prediction(model_path) if "auto" in (prediction_type, zero_terminal_snr) else Prediction(EPSILON, False, "")
    if prediction_type == "auto":
        named = name_says_v_prediction(model_path) if detected.assumed else ""
        if named:
            raise ModelError(
                f"{named} is named like a v-prediction model, but it carries no v_pred marker to say so",
                "choose the prediction type: --set model.prediction_type=v_prediction (with --set training.zero_terminal_snr=true "
                "for NoobAI V-Pred and its fine-tunes), or epsilon if the name misleads; the wizard's model step asks the same",
            )
        kind, source = detected.type, detected.source
    else:
        kind, source = prediction_type, "set in the config"
    if zero_terminal_snr == "auto":
        ztsnr = kind == V_PREDICTION and detected.zero_terminal_snr
    else:
        ztsnr = bool(zero_terminal_snr)
    return Prediction(kind, ztsnr, source)
