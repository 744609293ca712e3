"""A base model (or a tagger) by name: a Hugging Face hub id or one of the known bases,
downloaded into the usual hub cache and reused offline afterwards.

`--model org/repo`, `org/repo/file.safetensors`, a hub URL, or a known name
(`noobai-xl-vpred-1.0`). huggingface_hub lists the repo (sizes, LFS checksums), builds the
addresses and the headers (the user's token from HF_TOKEN or `hf auth login`, for gated
repos); the transfer is ours so that it resumes (see _download). Each file's SHA-256 is
checked against the hub's record before it is moved into place, and free space is checked
first. Files land in the hub cache's own layout and are found there again with
huggingface_hub's own cache lookup, so a later run resolves the name with no network at all,
a model fetched by `hf download` or diffusers is reused, and a half-downloaded model is never
trained from (a file enters a snapshot only once complete).

Every failure to reach the hub, whatever the huggingface_hub version's HTTP library, is a
ModelError that says what failed and what to do (integrations.network).
"""

from __future__ import annotations

import fcntl
import hashlib
import http.client
import json
import os
import re
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from stylora_tui.config.bases import KNOWN_BASES, NOT_ON_THE_HUB, KnownBase
from stylora_tui.errors import ModelError
from stylora_tui.integrations import network

Progress = Callable[[str, int, int], None]  # (what, bytes done, bytes total)

PART = r"[A-Za-z0-9][A-Za-z0-9._-]*"
REPO = re.compile(rf"^{PART}/{PART}$")
# A diffusers folder as StableDiffusionXLPipeline loads it: configs, tokenizers, and each
# component's default (non-variant) safetensors weights; never .bin, .ckpt or fp16 copies.
FOLDER_FILE = re.compile(
    r"^(model_index\.json"
    r"|(unet|vae|text_encoder|text_encoder_2|tokenizer|tokenizer_2|scheduler)/"
    r"([^/]+\.(json|txt)|(diffusion_pytorch_model|model)(-\d+-of-\d+)?\.safetensors))$"
)
SPARE_BYTES = 1 << 30  # the cache's disk keeps this much free after a download
POLL_S = 0.25
# huggingface_hub's own read timeout for downloads (its default 10 s, the same variable).
DEFAULT_TIMEOUT_S = 10.0


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
    raise ModelError(f"{url} is not a hub model or file address",
                     "use https://huggingface.co/ORG/REPO or .../ORG/REPO/blob/main/FILE.safetensors, or ORG/REPO")


def timeout_s() -> float:
    try:
        return float(os.environ.get("HF_HUB_DOWNLOAD_TIMEOUT") or DEFAULT_TIMEOUT_S)
    except ValueError:
        return DEFAULT_TIMEOUT_S


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
        raise ModelError(f"{ref.repo} is not downloaded yet and HF_HUB_OFFLINE is set",
                         "unset HF_HUB_OFFLINE on a machine with internet for the first run; later runs work offline")
    try:
        from huggingface_hub import HfApi
    except ImportError:
        raise ModelError("a model by name needs huggingface_hub, which is not installed",
                         "install the trainer's extras (`pip install -e '.[train]'`, or `make install`), or pass a local path") from None
    # One address for every request, read when it is made (HF_ENDPOINT, as huggingface_hub read it).
    api = HfApi(endpoint=hub_address())
    info = _call(ref, lambda: api.model_info(ref.repo, revision=ref.revision, files_metadata=True, timeout=timeout_s()))
    files, layout = choose_files(ref, [s.rfilename for s in info.siblings or []])
    commit = info.sha or ref.revision or "main"
    sizes = {s.rfilename: (s.size or 0) for s in info.siblings or []}
    total = sum(sizes[f] for f in files)
    _check_space(ref, total)
    done, local = 0, []
    for name in files:
        local.append(_download(ref, name, _sibling(info, name), commit, done, total, progress))
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
        raise ModelError(f"{ref.repo} holds {len(roots)} checkpoints: {', '.join(roots)}",
                         f"name one: --model {ref.repo}/{roots[0]}")
    if "model_index.json" in names:
        wanted = [n for n in names if FOLDER_FILE.match(n)]
        if not any(n.startswith("unet/") and n.endswith(".safetensors") for n in wanted):
            raise ModelError(f"{ref.repo} is a diffusers folder without safetensors UNet weights",
                             "use a repo that ships .safetensors (pickle .bin weights are not loaded)")
        return wanted, "folder"
    raise ModelError(f"{ref.repo} holds no .safetensors checkpoint at its root and is not a diffusers folder",
                     _listing_hint(ref, names))


def _listing_hint(ref: HubRef, names: list[str]) -> str:
    checkpoints = [n for n in names if n.lower().endswith(".safetensors")][:5]
    if checkpoints:
        return "its checkpoints: " + ", ".join(f"{ref.repo}/{n}" for n in checkpoints)
    return f"see https://huggingface.co/{ref.repo}/tree/main for what it holds"


def _sibling(info, name: str):
    return next(s for s in info.siblings if s.rfilename == name)


def hub_address() -> str:
    from huggingface_hub import constants

    return constants.ENDPOINT


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
        raise ModelError(f"{ref.repo} is gated: its license must be accepted first",
                         f"accept it at https://huggingface.co/{ref.repo} while logged in, then log in here "
                         "(`hf auth login`, or set HF_TOKEN)") from exc
    except RepositoryNotFoundError as exc:
        raise ModelError(f"no model {ref.repo} on the hub (or it is private)",
                         "check the name (ORG/REPO, as in the model page's address); for a private repo log in "
                         "(`hf auth login`, or set HF_TOKEN)") from exc
    except EntryNotFoundError as exc:
        raise ModelError(f"a file of {ref.repo} is gone from the hub: {exc}".splitlines()[0], "run the same command again") from exc
    except RevisionNotFoundError as exc:
        raise ModelError(f"{ref.repo} has no revision {ref.revision}", "use a branch, tag or commit the repo has, or leave @... off") from exc
    except HfHubHTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if status is None and network.is_network_failure(exc):
            raise unreachable(ref.repo, exc) from exc
        raise answered(ref.repo, status) from exc
    except Exception as exc:
        if network.is_network_failure(exc):
            raise unreachable(ref.repo, exc) from exc
        raise


def unreachable(what: str, exc: BaseException) -> ModelError:
    failed, todo = network.describe(exc, hub_address())
    return ModelError(f"could not reach the hub for {what}: {failed}",
                      f"{todo}; to work without the hub, download the file elsewhere and pass its path")


def answered(what: str, status: int | None) -> ModelError:
    """An HTTP answer that is not the file: the hub's own fault, a proxy's, or the user's."""
    if status is not None and status >= 500:
        return ModelError(f"the hub answered HTTP {status} for {what} (a fault on the hub's side)",
                          "try again in a few minutes (https://status.huggingface.co)")
    if status == 407:
        return ModelError(f"the proxy asked for credentials (HTTP 407) for {what}",
                          "put the proxy's user and password in HTTPS_PROXY (http://user:pass@host:port)")
    if status == 429:
        return ModelError(f"the hub is rate-limiting this machine (HTTP 429) for {what}",
                          "wait a few minutes; logging in (`hf auth login`, or HF_TOKEN) raises the limit")
    if status in (401, 403):
        return ModelError(f"the hub refused access (HTTP {status}) to {what}",
                          "log in (`hf auth login`, or set HF_TOKEN) if the repo is gated or private")
    return ModelError(f"the hub refused the request for {what} (HTTP {status or '?'})", "check the name, then try again")


def _hub_cache() -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def _check_space(ref: HubRef, total: int) -> None:
    cache = _hub_cache()
    cache.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(cache).free
    if total + SPARE_BYTES > free:
        raise ModelError(f"{ref.repo} needs {total / 2**30:.1f} GiB but {cache} has {free / 2**30:.1f} GiB free",
                         "free space, or put the hub cache on a bigger disk: export HF_HOME=/workspace/hf (any large volume)")


class _NoAuthAcrossHosts(urllib.request.HTTPRedirectHandler):
    """The hub redirects large files to a CDN with a signed address: the user's token must
    not follow it to another host."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and urlsplit(newurl).netloc != urlsplit(req.full_url).netloc:
            new.remove_header("Authorization")
        return new


def _download(ref: HubRef, name: str, sibling, commit: str, done: int, total: int, progress: Progress | None) -> Path:
    """One file into the hub cache's own layout (blobs/<etag>, snapshots/<commit>/<name>,
    refs/<revision>), so huggingface_hub, diffusers and ComfyUI find it there too.

    The transfer is ours, not huggingface_hub's: since 1.x it writes each attempt to a new
    temporary file and deletes it on failure, so an interrupted 7 GB download (a dropped SSH
    session) would start again from zero. Here the bytes go to blobs/<etag>.incomplete and
    the next attempt asks for the rest (an HTTP range request)."""
    from huggingface_hub import hf_hub_url
    from huggingface_hub.utils import build_hf_headers

    repo_dir = _hub_cache() / ("models--" + ref.repo.replace("/", "--"))
    etag = _expected_digest(sibling)[0] or hashlib.sha256(f"{ref.repo}/{commit}/{name}".encode()).hexdigest()
    blob, snapshot = repo_dir / "blobs" / etag, repo_dir / "snapshots" / commit / name
    blob.parent.mkdir(parents=True, exist_ok=True)
    size = sibling.size or 0
    if not blob.exists():
        part = blob.with_name(etag + ".incomplete")
        with open(blob.with_name(etag + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another process downloading the same file: wait for it
            if not blob.exists():
                headers = build_hf_headers(library_name="stylora-tui")
                _transfer(ref, name, hf_hub_url(ref.repo, name, revision=commit, endpoint=hub_address()), headers, part, size, done, total, progress)
                _verify(ref, name, part, sibling, progress)
                os.replace(part, blob)
    snapshot.parent.mkdir(parents=True, exist_ok=True)
    if not snapshot.exists():
        link = snapshot.with_name(snapshot.name + f".{os.getpid()}.tmp")
        link.unlink(missing_ok=True)
        link.symlink_to(os.path.relpath(blob, snapshot.parent))
        os.replace(link, snapshot)
    if ref.revision is None or ref.revision != commit:
        (repo_dir / "refs").mkdir(exist_ok=True)
        (repo_dir / "refs" / (ref.revision or "main")).write_text(commit)
    return snapshot


def _transfer(ref: HubRef, name: str, url: str, headers: dict, part: Path, size: int, done: int, total: int,
              progress: Progress | None) -> None:
    have = part.stat().st_size if part.exists() else 0
    if size and have > size:
        part.unlink()
        have = 0
    if size and have == size:
        return
    request = urllib.request.Request(url, headers={**headers, **({"Range": f"bytes={have}-"} if have else {})})
    try:
        response = urllib.request.build_opener(_NoAuthAcrossHosts).open(request, timeout=timeout_s())
    except urllib.error.HTTPError as exc:
        raise answered(f"{ref.repo}/{name}", exc.code) from exc
    except (OSError, http.client.HTTPException) as exc:
        raise unreachable(f"{ref.repo}/{name}", exc) from exc
    with response, open(part, "ab" if have and response.status == 206 else "wb") as out:
        if response.status != 206:
            have = 0  # the server sent the whole file
        last = 0.0
        try:
            while chunk := response.read(1 << 20):
                out.write(chunk)
                have += len(chunk)
                if progress is not None and time.monotonic() - last > POLL_S:
                    progress(f"downloading {Path(name).name}", done + have, total)
                    last = time.monotonic()
        except (OSError, http.client.HTTPException) as exc:  # the connection dropped mid-file: what arrived is kept
            failed, _ = network.describe(exc, url)
            raise ModelError(f"the download of {ref.repo} broke off after {have / 2**20:.0f} MiB: {failed}",
                             "run the same command again: it continues where it stopped") from exc
    if size and have != size:
        raise ModelError(f"the download of {ref.repo} ended early ({have} of {size} bytes)",
                         "run the same command again: it continues where it stopped")


def _expected_digest(sibling) -> tuple[str | None, str]:
    """What the hub says the file hashes to: (digest, 'sha256') for LFS files, (blob id,
    'git') for small ones, (None, '') when the listing gave neither."""
    lfs = getattr(sibling, "lfs", None)
    sha256 = (lfs.get("sha256") if isinstance(lfs, dict) else getattr(lfs, "sha256", None)) if lfs else None
    if sha256:
        return sha256, "sha256"
    blob_id = getattr(sibling, "blob_id", None)
    return (blob_id, "git") if blob_id else (None, "")


def _verify(ref: HubRef, name: str, path: Path, sibling, progress: Progress | None) -> None:
    """The bytes on disk against the hub's record. A mismatch removes them, so the next
    attempt downloads afresh."""
    expected, kind = _expected_digest(sibling)
    if expected is None:
        return
    size = path.stat().st_size
    digest = hashlib.sha256() if kind == "sha256" else hashlib.sha1(f"blob {size}\0".encode())
    read, last = 0, 0.0
    with open(path, "rb") as handle:
        while chunk := handle.read(8 << 20):
            digest.update(chunk)
            read += len(chunk)
            if progress is not None and time.monotonic() - last > POLL_S:
                progress(f"verifying {Path(name).name}", read, size)
                last = time.monotonic()
    if digest.hexdigest() != expected:
        path.unlink(missing_ok=True)
        raise ModelError(f"{ref.repo}/{name} does not match the hub's checksum (a corrupted transfer); it was removed",
                         "run the same command again to download it afresh")
