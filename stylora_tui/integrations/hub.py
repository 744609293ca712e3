"""A base model (or a tagger) by name: a Hugging Face hub id or one of the known bases,
downloaded into the usual hub cache and reused offline afterwards.

`--model org/repo`, `org/repo/file.safetensors`, a hub URL, or a known name
(`noobai-xl-vpred-1.0`). huggingface_hub lists the repo (sizes, LFS checksums), builds the
addresses and the headers (the user's token from HF_TOKEN or `hf auth login`, for gated
repos); the transfer is ours so that it resumes and is verified (hub_transfer), after a
check for free space. Files land in the hub cache's own layout and are found there again with
huggingface_hub's own cache lookup, so a later run resolves the name with no network at all,
a model fetched by `hf download` or diffusers is reused, and a half-downloaded model is never
trained from (a file enters a snapshot only once complete).

Every failure to reach the hub, whatever the huggingface_hub version's HTTP library, is a
ModelError that says what failed and what to do (hub_answers, network).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from stylora_tui.config.bases import KNOWN_BASES, NOT_ON_THE_HUB, KnownBase
from stylora_tui.errors import ModelError
from stylora_tui.integrations import network
from stylora_tui.integrations.hub_answers import answered, hub_address, timeout_s, unreachable
from stylora_tui.integrations.hub_transfer import Progress, check_space, download

PART = r"[A-Za-z0-9][A-Za-z0-9._-]*"
REPO = re.compile(rf"^{PART}/{PART}$")
# A diffusers folder as StableDiffusionXLPipeline loads it: configs, tokenizers, and each
# component's default (non-variant) safetensors weights; never .bin, .ckpt or fp16 copies.
FOLDER_FILE = re.compile(
    r"^(model_index\.json"
    r"|(unet|vae|text_encoder|text_encoder_2|tokenizer|tokenizer_2|scheduler)/"
    r"([^/]+\.(json|txt)|(diffusion_pytorch_model|model)(-\d+-of-\d+)?\.safetensors))$"
)


@dataclass(frozen=True)
class HubRef:
    repo: str
    file: str | None  # a file in the repo; None = decide from the listing
    revision: str | None = None
    known: KnownBase | None = None  # named as a known base

    @property
    def family(self) -> str | None:
        return self.known.family if self.known else None

    @property
    def prefer(self) -> str | None:
        """A known base's usual file name."""
        return self.known.file if self.known else None


def parse(spec: str) -> HubRef | None:
    """The hub reference `spec` names, or None when it is a local path (or 'demo')."""
    text = spec.strip()
    if text.lower() in NOT_ON_THE_HUB:
        raise ModelError(f"{text!r} cannot be downloaded by name", NOT_ON_THE_HUB[text.lower()])
    if text.lower() in KNOWN_BASES:
        known = KNOWN_BASES[text.lower()]
        return HubRef(known.repo, None, None, known)
    if text.startswith(("https://huggingface.co/", "http://huggingface.co/", "https://hf.co/")):
        return _from_url(text)
    if not text or text.startswith(("/", ".", "~")) or os.path.exists(os.path.expanduser(text)):
        return None
    revision = None
    if "@" in text:
        text, revision = text.rsplit("@", 1)
    parts = text.split("/")
    if len(parts) == 2 and REPO.match(text) and not text.lower().endswith(".safetensors"):
        return HubRef(text, None, revision)
    if len(parts) >= 3 and REPO.match("/".join(parts[:2])) and parts[-1].lower().endswith(".safetensors"):
        return HubRef("/".join(parts[:2]), "/".join(parts[2:]), revision)
    return None


def _from_url(url: str) -> HubRef:
    # https://huggingface.co/org/repo[/blob|resolve/<rev>/path/file.safetensors]
    parts = [unquote(p) for p in urlsplit(url).path.strip("/").split("/")]
    if len(parts) >= 2 and REPO.match("/".join(parts[:2])):
        if len(parts) >= 5 and parts[2] in ("blob", "resolve"):
            return HubRef("/".join(parts[:2]), "/".join(parts[4:]), parts[3])
        if len(parts) == 2:
            return HubRef("/".join(parts[:2]), None)
    raise ModelError(
        f"{url} is not a hub model or file address",
        "use https://huggingface.co/ORG/REPO or .../ORG/REPO/blob/main/FILE.safetensors, or ORG/REPO",
    )


def cached(ref: HubRef) -> Path | None:
    """The complete download of `ref` in the hub cache (ours, `hf download`'s or diffusers'),
    found with huggingface_hub's own lookup and without touching the network."""
    try:
        from huggingface_hub import snapshot_download, try_to_load_from_cache
    except ImportError:
        return None
    try:
        if ref.file is not None:
            found = try_to_load_from_cache(ref.repo, ref.file, revision=ref.revision)
            return Path(found) if isinstance(found, str) and os.path.isfile(found) else None
        snapshot = Path(snapshot_download(ref.repo, revision=ref.revision, local_files_only=True))
    except Exception:  # huggingface_hub's "not in the cache" differs between versions; any miss is a miss
        return None
    names = [str(p.relative_to(snapshot)) for p in snapshot.rglob("*") if p.is_file()]
    try:
        files, layout = choose_files(ref, names)
    except ModelError:
        return None
    if not all((snapshot / name).is_file() for name in files):
        return None
    if layout == "file":
        return snapshot / files[0]
    return snapshot if _folder_complete(snapshot, files) else None


def _folder_complete(snapshot: Path, files: list[str]) -> bool:
    """Every component model_index.json names has its files (a download cut short between
    two components leaves a snapshot that only looks like a model)."""
    try:
        index = json.loads((snapshot / "model_index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    components = [k for k, v in index.items() if isinstance(v, list) and not k.startswith("_") and v[0] is not None]
    return bool(components) and all(any(f.startswith(f"{c}/") for f in files) for c in components)


def fetch(ref: HubRef, progress: Progress | None = None) -> Path:
    """The local path of `ref`: from the hub cache, else downloaded now."""
    found = cached(ref)
    if found is not None:
        return found
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        raise ModelError(
            f"{ref.repo} is not downloaded yet and HF_HUB_OFFLINE is set",
            "unset HF_HUB_OFFLINE on a machine with internet for the first run; later runs work offline",
        )
    try:
        from huggingface_hub import HfApi
    except ImportError:
        raise ModelError(
            "a model by name needs huggingface_hub, which is not installed",
            "install the trainer's extras (`pip install -e '.[train]'`, or `make install`), or pass a local path",
        ) from None
    # One address for every request, read when it is made (HF_ENDPOINT, as huggingface_hub read it).
    api = HfApi(endpoint=hub_address())
    info = _call(ref, lambda: api.model_info(ref.repo, revision=ref.revision, files_metadata=True, timeout=timeout_s()))
    files, layout = choose_files(ref, [s.rfilename for s in info.siblings or []])
    commit = info.sha or ref.revision or "main"
    sizes = {s.rfilename: (s.size or 0) for s in info.siblings or []}
    total = sum(sizes[f] for f in files)
    check_space(ref.repo, total)
    done, local = 0, []
    for name in files:
        local.append(download(ref.repo, ref.revision, name, _sibling(info, name), commit, done, total, progress))
        done += sizes[name]
    if progress is not None:
        progress("downloaded", total, total)
    return local[0] if layout == "file" else local[files.index("model_index.json")].parent


def choose_files(ref: HubRef, names: list[str]) -> tuple[list[str], str]:
    """The files to use and the layout ('file' or 'folder'): the named file; else the known
    base's file or the only .safetensors at the repo's root; else a diffusers folder."""
    if ref.file:
        if ref.file not in names:
            raise ModelError(f"{ref.repo} has no file {ref.file}", _listing_hint(ref, names))
        return [ref.file], "file"
    roots = [n for n in names if "/" not in n and n.lower().endswith(".safetensors")]
    if ref.prefer in roots:
        return [ref.prefer], "file"
    if len(roots) == 1:
        return roots, "file"
    if len(roots) > 1:
        raise ModelError(
            f"{ref.repo} holds {len(roots)} checkpoints: {', '.join(roots)}", f"name one: --model {ref.repo}/{roots[0]}"
        )
    if "model_index.json" in names:
        wanted = [n for n in names if FOLDER_FILE.match(n)]
        if not any(n.startswith("unet/") and n.endswith(".safetensors") for n in wanted):
            raise ModelError(
                f"{ref.repo} is a diffusers folder without safetensors UNet weights",
                "use a repo that ships .safetensors (pickle .bin weights are not loaded)",
            )
        return wanted, "folder"
    raise ModelError(
        f"{ref.repo} holds no .safetensors checkpoint at its root and is not a diffusers folder", _listing_hint(ref, names)
    )


def _listing_hint(ref: HubRef, names: list[str]) -> str:
    checkpoints = [n for n in names if n.lower().endswith(".safetensors")][:5]
    if checkpoints:
        return "its checkpoints: " + ", ".join(f"{ref.repo}/{n}" for n in checkpoints)
    return f"see https://huggingface.co/{ref.repo}/tree/main for what it holds"


def _sibling(info, name: str):
    return next(s for s in info.siblings if s.rfilename == name)


def _call(ref: HubRef, action):
    """`action()` against the hub, its failures said the way a user can act on them."""
    from huggingface_hub.utils import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        return action()
    except GatedRepoError as exc:
        raise ModelError(
            f"{ref.repo} is gated: its license must be accepted first",
            f"accept it at https://huggingface.co/{ref.repo} while logged in, then log in here "
            "(`hf auth login`, or set HF_TOKEN)",
        ) from exc
    except RepositoryNotFoundError as exc:
        raise ModelError(
            f"no model {ref.repo} on the hub (or it is private)",
            "check the name (ORG/REPO, as in the model page's address); for a private repo log in "
            "(`hf auth login`, or set HF_TOKEN)",
        ) from exc
    except EntryNotFoundError as exc:
        raise ModelError(
            f"a file of {ref.repo} is gone from the hub: {exc}".splitlines()[0], "run the same command again"
        ) from exc
    except RevisionNotFoundError as exc:
        raise ModelError(
            f"{ref.repo} has no revision {ref.revision}", "use a branch, tag or commit the repo has, or leave @... off"
        ) from exc
    except HfHubHTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if status is None and network.is_network_failure(exc):
            raise unreachable(ref.repo, exc) from exc
        raise answered(ref.repo, status) from exc
    except Exception as exc:
        if network.is_network_failure(exc):
            raise unreachable(ref.repo, exc) from exc
        raise
