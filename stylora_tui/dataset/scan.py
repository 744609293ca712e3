"""Scan a dataset folder: images, their captions, their repeats. Read-only, always.

Images are probed in worker processes (all cores), streamed back in order so progress
is live and memory stays flat; results are cached by (path, size, mtime) in the XDG cache
dir, so a re-check of an unchanged folder decodes nothing. File names are paired after
Unicode NFC normalisation, because zip tools and macOS leave decomposed (NFD) names.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import sqlite3
import stat
import sys
import unicodedata
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from stylora_tui import paths
from stylora_tui.dataset.layout import repeat_folders
from stylora_tui.dataset.probe import PROBE_VERSION, ImageInfo, probe_image
from stylora_tui.dataset.reading import NotRegularFile, open_regular
from stylora_tui.errors import DatasetError

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp"})
# Files every OS leaves behind; not worth a finding.
SYSTEM_FILES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})
INLINE_BELOW = 16  # fewer images than this: a worker pool costs more than it saves

Progress = Callable[[int, int], None]


# A tag list is a few hundred bytes; past this a "caption" is something else, and only
# this much of it is read (and tokenised).
MAX_CAPTION_BYTES = 16 << 10


@dataclass(frozen=True)
class CaptionFile:
    path: Path
    text: str = ""
    encoding_problem: str = ""  # "" when the file is clean UTF-8
    encoding_fatal: bool = False  # the text could not be read as UTF-8 at all
    size_bytes: int = 0  # the whole file; only MAX_CAPTION_BYTES of it are read
    detected_encoding: str = ""  # what a caption that is not UTF-8 looks like it was saved as
    unreadable: tuple[str, str] | None = None  # (finding code, why) when it could not be read at all


@dataclass(frozen=True)
class DatasetImage:
    path: Path
    rel: str
    repeats: int
    size_bytes: int
    mtime_ns: int
    info: ImageInfo
    caption: CaptionFile | None

    @property
    def usable(self) -> bool:
        return not self.info.error


@dataclass(frozen=True)
class DatasetScan:
    root: Path
    images: tuple[DatasetImage, ...]
    ignored: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # (rel path, why)
    # Files never opened: (rel path, finding code, why): links that lead outside the
    # dataset (their targets must not end up in an adapter), pipes and devices (would hang).
    refused: tuple[tuple[str, str, str], ...] = field(default_factory=tuple)
    # kohya's `<repeats>_<name>` folders set each image's repeats; else the config does.
    folder_repeats: bool = False

    @property
    def usable(self) -> tuple[DatasetImage, ...]:
        return tuple(i for i in self.images if i.usable)

    def with_repeats(self, repeats: int) -> DatasetScan:
        """The same scan under another `dataset.repeats` (a preset with other repeats picked
        after the scan): the probing is not repeated, the counts follow the setting."""
        if self.folder_repeats or all(i.repeats == repeats for i in self.images):
            return self
        return replace(self, images=tuple(replace(i, repeats=repeats) for i in self.images))


def nfc(name: str) -> str:
    return unicodedata.normalize("NFC", name)


def read_caption(path: Path) -> CaptionFile:
    """Read a caption as UTF-8 and say exactly what is wrong when it is not."""
    try:
        with open_regular(path) as handle:
            data = handle.read(MAX_CAPTION_BYTES)
            size = os.fstat(handle.fileno()).st_size
    except NotRegularFile:
        return CaptionFile(path, unreadable=("not-regular-file", "not a regular file (a pipe, socket or device): not read"))
    except OSError as exc:
        return CaptionFile(path, unreadable=("unreadable-file", f"cannot be read ({exc.strerror or exc})"))
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return CaptionFile(
            path,
            data.decode("utf-16", errors="replace"),
            "saved as UTF-16 (Windows 'Unicode'); save it as UTF-8",
            True,
            size,
            "UTF-16",
        )
    problem = ""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
        problem = "starts with a UTF-8 byte-order mark; it is stripped here, but other trainers read it as part of the first tag"
    if size > MAX_CAPTION_BYTES:
        data = _whole_characters(data)
    try:
        return CaptionFile(path, data.decode("utf-8"), problem, size_bytes=size)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        guess = _guess_encoding(data)
        return CaptionFile(
            path,
            data.decode("utf-8", errors="replace"),
            f"not UTF-8: byte 0x{data[exc.start]:02x} at offset {exc.start} (line {line}); looks like {guess}",
            True,
            size,
            guess.upper(),
        )


def _whole_characters(data: bytes) -> bytes:
    """A UTF-8 prefix cut at a character boundary, not inside one."""
    for trim in range(4):
        try:
            data[: len(data) - trim].decode("utf-8")
        except UnicodeDecodeError:
            continue
        return data[: len(data) - trim]
    return data


def _guess_encoding(data: bytes) -> str:
    for name in ("cp932", "gb18030", "cp1252"):
        try:
            data.decode(name)
        except UnicodeDecodeError:
            continue
        return name
    return "latin-1"


def _refusal(entry: Path, root: Path) -> tuple[str, str] | None:
    """(code, why) when a file must not be opened: it leads outside the dataset, or it is
    not a regular file (a pipe named x.png blocks every reader forever)."""
    try:
        resolved = entry.resolve()
        mode = resolved.stat().st_mode
    except OSError as exc:
        return "unreadable-file", f"cannot be read ({exc.strerror or exc})"
    if not resolved.is_relative_to(root.resolve()):
        return "outside-dataset", "a link to a file outside the dataset folder: not read"
    if not stat.S_ISREG(mode):
        return "not-regular-file", "not a regular file (a pipe, socket or device): not read"
    return None


def _list_folder(
    folder: Path, caption_ext: str, repeats: int, root: Path, ignored: list, refused: list
) -> list[tuple[Path, int, Path | None]]:
    images: list[Path] = []
    captions: dict[str, Path] = {}
    others: list[Path] = []
    for entry in sorted(folder.iterdir()):
        if entry.name in SYSTEM_FILES or entry.name.startswith("._"):
            continue
        suffix = entry.suffix.lower()
        if suffix in IMAGE_EXTENSIONS or suffix == caption_ext.lower():
            problem = _refusal(entry, root)
            if problem is not None:
                refused.append((_rel(entry, root), *problem))
                continue
        if entry.is_dir():
            if entry.name.startswith(".") or entry.name == "__MACOSX":
                continue
            others.append(entry)
        elif entry.suffix.lower() in IMAGE_EXTENSIONS:
            images.append(entry)
        elif entry.suffix.lower() == caption_ext.lower():
            captions[nfc(entry.stem)] = entry
        elif not entry.name.startswith("."):
            others.append(entry)
    paired: list[tuple[Path, int, Path | None]] = []
    used: set[str] = set()
    for image in images:
        key = nfc(image.stem)
        caption = captions.get(key)
        if caption is not None:
            used.add(key)
        paired.append((image, repeats, caption))
    for key, caption in captions.items():
        if key not in used:
            ignored.append((_rel(caption, root), f"a {caption_ext} file with no image of the same name"))
    for other in others:
        why = (
            "a subfolder is not read; name it <repeats>_<name> (e.g. 2_extra) to train it"
            if other.is_dir()
            else f"not an image ({', '.join(sorted(IMAGE_EXTENSIONS))}) or a {caption_ext} caption"
        )
        ignored.append((_rel(other, root), why))
    return paired


def _rel(path: Path, root: Path) -> str:
    return str(path.relative_to(root))


def list_dataset(
    root: Path, caption_extension: str, default_repeats: int
) -> tuple[list[tuple[Path, int, Path | None]], list, list]:
    if not root.exists():
        raise DatasetError(f"dataset folder {root} does not exist", "check the path (tab completion helps)")
    if not root.is_dir():
        raise DatasetError(f"{root} is not a folder", "give the folder that holds the images, not one image")
    ignored: list[tuple[str, str]] = []
    refused: list[tuple[str, str, str]] = []
    folders = repeat_folders(root, default_repeats)
    entries: list[tuple[Path, int, Path | None]] = []
    for folder, repeats in folders:
        entries.extend(_list_folder(folder, caption_extension, repeats, root, ignored, refused))
    if folders[0][0] != root:
        # kohya reads only the <repeats>_<name> subfolders: anything beside them is skipped.
        for entry in sorted(root.iterdir()):
            if entry.is_file() and entry.name not in SYSTEM_FILES and not entry.name.startswith("."):
                ignored.append((entry.name, "beside the <repeats>_<name> folders: kohya-style datasets read only those"))
            elif entry.is_dir() and entry not in [f for f, _ in folders] and not entry.name.startswith("."):
                ignored.append((entry.name, "a subfolder is not read; name it <repeats>_<name> (e.g. 2_extra) to train it"))
    return entries, ignored, refused


class ProbeCache:
    """Probe results by (absolute path, size, mtime); a missing or read-only cache just misses."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths.cache_dir() / f"scan-v{PROBE_VERSION}.sqlite"
        self._db: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=5)
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS probe (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, info TEXT)"
            )
        except (OSError, sqlite3.Error):
            self._db = None

    def get(self, path: Path, size: int, mtime_ns: int) -> ImageInfo | None:
        if self._db is None:
            return None
        try:
            row = self._db.execute("SELECT size, mtime_ns, info FROM probe WHERE path = ?", (str(path),)).fetchone()
        except sqlite3.Error:
            return None
        if row and row[0] == size and row[1] == mtime_ns:
            return ImageInfo.from_json(json.loads(row[2]))
        return None

    def put_many(self, rows: list[tuple[Path, int, int, ImageInfo]]) -> None:
        if self._db is None or not rows:
            return
        try:
            with self._db:
                self._db.executemany(
                    "INSERT OR REPLACE INTO probe VALUES (?, ?, ?, ?)",
                    [(str(p), s, m, json.dumps(i.to_json())) for p, s, m, i in rows],
                )
        except sqlite3.Error:
            pass

    def close(self) -> None:
        if self._db is not None:
            self._db.close()


def scan_dataset(
    root: Path,
    caption_extension: str = ".txt",
    default_repeats: int = 1,
    *,
    progress: Progress | None = None,
    workers: int | None = None,
    cache: ProbeCache | None = None,
) -> DatasetScan:
    root = Path(root).expanduser().absolute()
    entries, ignored, refused = list_dataset(root, caption_extension, default_repeats)
    own_cache = cache is None
    cache = cache or ProbeCache()
    try:
        stats = [p.stat() for p, _, _ in entries]
        infos: list[ImageInfo | None] = [
            cache.get(p.absolute(), s.st_size, s.st_mtime_ns) for (p, _, _), s in zip(entries, stats)
        ]
        missing = [i for i, info in enumerate(infos) if info is None]
        total, done = len(entries), len(entries) - len(missing)
        if progress:
            progress(done, total)
        fresh: list[tuple[Path, int, int, ImageInfo]] = []
        for index, info in zip(missing, _probe_all([str(entries[i][0]) for i in missing], workers)):
            infos[index] = info
            fresh.append((entries[index][0].absolute(), stats[index].st_size, stats[index].st_mtime_ns, info))
            done += 1
            if progress:
                progress(done, total)
            if len(fresh) >= 256:
                cache.put_many(fresh)
                fresh = []
        cache.put_many(fresh)
    finally:
        if own_cache:
            cache.close()
    images = tuple(
        DatasetImage(
            path,
            _rel(path, root),
            repeats,
            stat.st_size,
            stat.st_mtime_ns,
            info or ImageInfo(error="not probed"),
            read_caption(caption) if caption else None,
        )
        for (path, repeats, caption), stat, info in zip(entries, stats, infos)
    )
    numbered = any(path.parent != root for path, _, _ in entries)
    return DatasetScan(root, images, tuple(ignored), tuple(refused), folder_repeats=numbered)


def _probe_all(paths_: list[str], workers: int | None):
    if len(paths_) < INLINE_BELOW or workers == 1:
        yield from map(probe_image, paths_)
        return
    import multiprocessing
    import threading

    # fork starts workers that already have Pillow loaded; but forking a process that runs
    # other threads (the TUI's workers) can deadlock, so then a clean forkserver is used.
    method = "fork" if threading.active_count() == 1 else "forkserver"
    context = multiprocessing.get_context(method)
    try:
        with _stderr_with_fd():
            pool = ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1, mp_context=context)
            # map() submits every path now, so all workers start inside this block.
            results = pool.map(probe_image, paths_, chunksize=8)
    except (OSError, ValueError, NotImplementedError):
        # No process pool here (no /dev/shm in some containers): probe in this process.
        yield from map(probe_image, paths_)
        return
    with pool:
        yield from results


@contextlib.contextmanager
def _stderr_with_fd():
    """multiprocessing's start-up passes sys.stderr's file descriptor to its helper process;
    inside a Textual app stderr is a capture object whose fileno() is -1, and the start
    fails with 'bad value(s) in fds_to_keep'. Lend it /dev/null for that moment."""
    try:
        usable = sys.stderr is not None and sys.stderr.fileno() >= 0
    except (AttributeError, OSError, ValueError):
        usable = False
    if usable:
        yield
        return
    saved = sys.stderr
    with open(os.devnull, "w") as devnull:
        sys.stderr = devnull
        try:
            yield
        finally:
            sys.stderr = saved
