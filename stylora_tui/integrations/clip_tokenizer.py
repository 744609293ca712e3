"""The CLIP BPE tokenizer, offline: shipped with the package, or the base model's own.

Loaded with the `tokenizers` library only (no transformers, no torch), lazily, so the
`--help` path never pays for it. A tokenizer whose vocabulary is not CLIP's 49408 tokens
is refused: transformers silently builds an empty tokenizer when files are missing.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stylora_tui import paths
from stylora_tui.dataset.tokens import CLIP_VOCAB_SIZE, TokenPieces
from stylora_tui.errors import TokenizerError

SHIPPED = paths.package_dir() / "data" / "clip" / "tokenizer.json.gz"


@dataclass(frozen=True)
class ClipTokenizer:
    """A TokenizerLike over a `tokenizers.Tokenizer` with CLIP's vocabulary."""

    backend: Any  # a tokenizers.Tokenizer (imported lazily: the light side loads it only when asked)
    source: str

    def encode(self, text: str) -> TokenPieces:
        encoding = self.backend.encode(text, add_special_tokens=False)
        return TokenPieces(tuple(encoding.ids), tuple(encoding.tokens))

    def count_batch(self, texts: list[str]) -> list[int]:
        return [len(e.ids) for e in self.backend.encode_batch(texts, add_special_tokens=False)]

    def token_starts_batch(self, texts: list[str]) -> list[list[int]]:
        return [[start for start, _ in e.offsets] for e in self.backend.encode_batch(texts, add_special_tokens=False)]

    def token_to_id(self, token: str) -> int | None:
        return self.backend.token_to_id(token)


def _checked(tokenizer, source: str) -> ClipTokenizer:
    size = tokenizer.get_vocab_size()
    if size != CLIP_VOCAB_SIZE:
        raise TokenizerError(
            f"the tokenizer in {source} has {size} tokens, not CLIP's {CLIP_VOCAB_SIZE}",
            "the model folder's tokenizer files are missing or damaged; copy tokenizer/ and tokenizer_2/ from a working SDXL model",
        )
    return ClipTokenizer(tokenizer, source)


def shipped_spec() -> dict:
    """The shipped tokenizer.json, in the form every tokenizers release we allow reads."""
    with gzip.open(SHIPPED, "rt", encoding="utf-8") as handle:
        return portable(json.loads(handle.read()))


def portable(spec: dict) -> dict:
    """tokenizers 0.20 writes BPE merges as pairs; 0.19 (beside transformers 4.40-4.44) reads
    only the older "a b" strings, which every release reads. CLIP's merges hold no spaces."""
    merges = spec.get("model", {}).get("merges")
    if isinstance(merges, list):
        spec["model"]["merges"] = [m if isinstance(m, str) else " ".join(m) for m in merges]
    return spec


def load_shipped() -> ClipTokenizer:
    from tokenizers import Tokenizer

    return _checked(Tokenizer.from_str(json.dumps(shipped_spec())), "the shipped CLIP vocabulary")


def load_from_folder(folder: Path) -> ClipTokenizer:
    """A diffusers `tokenizer/` or `tokenizer_2/` folder: tokenizer.json, or vocab.json + merges.txt."""
    from tokenizers import Tokenizer

    if (folder / "tokenizer.json").is_file():
        try:
            spec = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError) as exc:
            raise TokenizerError(
                f"{folder / 'tokenizer.json'} cannot be read ({exc})", "copy the tokenizer folders from a working SDXL model"
            ) from None
        return _checked(Tokenizer.from_str(json.dumps(portable(spec))), str(folder))
    vocab, merges = folder / "vocab.json", folder / "merges.txt"
    if not (vocab.is_file() and merges.is_file()):
        raise TokenizerError(
            f"{folder} has neither tokenizer.json nor vocab.json + merges.txt",
            "copy the tokenizer folders from a working SDXL model, or point at a .safetensors checkpoint",
        )
    # CLIP's normalisation and pre-tokenisation are the same for every SDXL model: take
    # them from the shipped tokenizer and swap in this folder's vocabulary and merges.
    spec = shipped_spec()
    spec["model"]["vocab"] = json.loads(vocab.read_text(encoding="utf-8"))
    lines = merges.read_text(encoding="utf-8").splitlines()
    spec["model"]["merges"] = [line for line in lines if line and not line.startswith("#version")]
    return _checked(Tokenizer.from_str(json.dumps(spec)), str(folder))


def load_for_model(model_path: str | Path | None) -> tuple[ClipTokenizer, ClipTokenizer]:
    """SDXL's two tokenizers: a diffusers folder's own, else the shipped vocabulary twice.

    Both SDXL tokenizers share CLIP's vocabulary (tokenizer_2 only pads with "!"), so the
    shipped one stands in for a single-file checkpoint, which carries no tokenizer.
    """
    folder = Path(model_path) if model_path else None
    if folder is not None and folder.is_dir() and (folder / "tokenizer").is_dir():
        first = load_from_folder(folder / "tokenizer")
        second_dir = folder / "tokenizer_2"
        return first, load_from_folder(second_dir) if second_dir.is_dir() else first
    shipped = load_shipped()
    return shipped, shipped
