"""Files into the hub cache, resumable and verified: ours, not huggingface_hub's, which
since 1.x writes each attempt to a new temporary file and deletes it on failure (an
interrupted 7 GB download would start again from zero). The bytes go to
blobs/<etag>.incomplete and the next attempt asks for the rest (an HTTP range request);
each file's SHA-256 is checked against the hub's record before it is moved into place."""

from __future__ import annotations

import fcntl
import hashlib
import http.client
import os
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from stylora_tui.errors import ModelError
from stylora_tui.integrations import network
from stylora_tui.integrations.hub_answers import answered, hub_address, timeout_s, unreachable

Progress = Callable[[str, int, int], None]  # (what, bytes done, bytes total)
SPARE_BYTES = 1 << 30  # the cache's disk keeps this much free after a download
POLL_S = 0.25


def hub_cache() -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def check_space(repo: str, total: int) -> None:
    cache = hub_cache()
    cache.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(cache).free
    if total + SPARE_BYTES > free:
        raise ModelError(
            f"{repo} needs {total / 2**30:.1f} GiB but {cache} has {free / 2**30:.1f} GiB free",
            "free space, or put the hub cache on a bigger disk: export HF_HOME=/workspace/hf (any large volume)",
        )


class _NoAuthAcrossHosts(urllib.request.HTTPRedirectHandler):
    """The hub redirects large files to a CDN with a signed address: the user's token must
    not follow it to another host."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and urlsplit(newurl).netloc != urlsplit(req.full_url).netloc:
            new.remove_header("Authorization")
        return new


def download(
    repo: str, revision: str | None, name: str, sibling, commit: str, done: int, total: int, progress: Progress | None
) -> Path:
    """One file into the hub cache's own layout (blobs/<etag>, snapshots/<commit>/<name>,
    refs/<revision>), so huggingface_hub, diffusers and ComfyUI find it there too. A file
    enters the snapshot only once complete and verified."""
    from huggingface_hub import hf_hub_url
    from huggingface_hub.utils import build_hf_headers

    repo_dir = hub_cache() / ("models--" + repo.replace("/", "--"))
    etag = _expected_digest(sibling)[0] or hashlib.sha256(f"{repo}/{commit}/{name}".encode()).hexdigest()
    blob, snapshot = repo_dir / "blobs" / etag, repo_dir / "snapshots" / commit / name
    blob.parent.mkdir(parents=True, exist_ok=True)
    size = sibling.size or 0
    if not blob.exists():
        part = blob.with_name(etag + ".incomplete")
        with open(blob.with_name(etag + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another process downloading the same file: wait for it
            if not blob.exists():
                headers = build_hf_headers(library_name="stylora-tui")
                _transfer(
                    repo,
                    name,
                    hf_hub_url(repo, name, revision=commit, endpoint=hub_address()),
                    headers,
                    part,
                    size,
                    done,
                    total,
                    progress,
                )
                _verify(repo, name, part, sibling, progress)
                os.replace(part, blob)
    snapshot.parent.mkdir(parents=True, exist_ok=True)
    if not snapshot.exists():
        link = snapshot.with_name(snapshot.name + f".{os.getpid()}.tmp")
        link.unlink(missing_ok=True)
        link.symlink_to(os.path.relpath(blob, snapshot.parent))
        os.replace(link, snapshot)
    if revision is None or revision != commit:
        (repo_dir / "refs").mkdir(exist_ok=True)
        (repo_dir / "refs" / (revision or "main")).write_text(commit)
    return snapshot


def _transfer(
    repo: str, name: str, url: str, headers: dict, part: Path, size: int, done: int, total: int, progress: Progress | None
) -> None:
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
        raise answered(f"{repo}/{name}", exc.code) from exc
    except (OSError, http.client.HTTPException) as exc:
        raise unreachable(f"{repo}/{name}", exc) from exc
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
            raise ModelError(
                f"the download of {repo} broke off after {have / 2**20:.0f} MiB: {failed}",
                "run the same command again: it continues where it stopped",
            ) from exc
    if size and have != size:
        raise ModelError(
            f"the download of {repo} ended early ({have} of {size} bytes)",
            "run the same command again: it continues where it stopped",
        )


def _expected_digest(sibling) -> tuple[str | None, str]:
    """What the hub says the file hashes to: (digest, 'sha256') for LFS files, (blob id,
    'git') for small ones, (None, '') when the listing gave neither."""
    lfs = getattr(sibling, "lfs", None)
    sha256 = (lfs.get("sha256") if isinstance(lfs, dict) else getattr(lfs, "sha256", None)) if lfs else None
    if sha256:
        return sha256, "sha256"
    blob_id = getattr(sibling, "blob_id", None)
    return (blob_id, "git") if blob_id else (None, "")


def _verify(repo: str, name: str, path: Path, sibling, progress: Progress | None) -> None:
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
        raise ModelError(
            f"{repo}/{name} does not match the hub's checksum (a corrupted transfer); it was removed",
            "run the same command again to download it afresh",
        )
