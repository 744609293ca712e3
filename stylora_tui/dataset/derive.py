"""A new dataset folder made from the user's: the same images (hard-linked where the
filesystem allows, else copied) with captions written by us. The source folder is only
ever read; `crop`, `captions` and `tag` all write through here.

Hard links cost no space and never change the source: nothing here writes to an image,
and an editor that saves a picture in the new folder replaces the link with a new file.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from stylora_tui.dataset.captions import same_tag, split_tags
from stylora_tui.dataset.scan import list_dataset, read_caption
from stylora_tui.errors import DatasetError


def new_output(source: Path, output: Path) -> tuple[Path, Path]:
    """Both folders made absolute; refuses an output inside the dataset or one that holds
    anything already (nothing is ever overwritten)."""
    source, output = source.expanduser().absolute(), output.expanduser().absolute()
    if output == source or source in output.parents:
        raise DatasetError(f"{output} is inside the dataset {source}", "write the new folder outside the dataset")
    if output in source.parents:
        raise DatasetError(f"{output} holds the dataset {source}", "write the new folder beside the dataset, not above it")
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise DatasetError(f"{output} already exists and is not empty", "choose a new folder; nothing is ever overwritten")
    return source, output


def place_image(path: Path, target: Path, copy: bool = False) -> str:
    """Put the image at `target`: 'linked' (a hard link) or 'copied'."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if not copy:
        try:
            os.link(path, target)
            return "linked"
        except OSError as exc:
            # Another filesystem, or one without hard links (FAT, some network mounts).
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EACCES):
                raise
    shutil.copy2(path, target)
    return "copied"


@dataclass(frozen=True)
class Source:
    path: Path  # the image
    rel: Path  # relative to the dataset (kohya's <repeats>_<name> folders kept)
    caption: str | None  # the existing caption's text, None when there is none
    caption_path: Path | None


def images(source: Path, caption_extension: str) -> Iterator[Source]:
    entries, _, _ = list_dataset(source, caption_extension, 1)
    for path, _, caption in entries:
        yield Source(path, path.relative_to(source), read_caption(caption).text if caption is not None else None, caption)


def write_copy(
    source: Path,
    output: Path,
    caption_for: Callable[[Source], str],
    caption_extension: str = ".txt",
    copy: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, int]:
    """Every image of `source` into `output` with the caption `caption_for` gives it
    (UTF-8, one line). Returns how many images were linked and copied."""
    source, output = new_output(source, output)
    found = list(images(source, caption_extension))
    if not found:
        raise DatasetError(f"no images in {source}", "point at the folder that holds the images (PNG, JPEG, WebP)")
    placed = {"linked": 0, "copied": 0}
    output.mkdir(parents=True, exist_ok=True)
    for index, item in enumerate(found):
        target = output / item.rel
        placed[place_image(item.path, target, copy)] += 1
        target.with_suffix(caption_extension).write_text(caption_for(item) + "\n", encoding="utf-8")
        if progress:
            progress(index + 1, len(found))
    return placed


def with_trigger(text: str | None, trigger: str, after: tuple[str, ...] = ()) -> str:
    """The caption with the trigger first (added, or moved there; none when empty), then
    `after` (quality tags), then the rest in order, each tag once (Danbooru-style matching:
    case and `_`)."""
    result: list[str] = []
    for tag in (*split_tags(trigger), *after, *split_tags(text or "")):
        if not any(same_tag(tag, seen) for seen in result):
            result.append(tag)
    return ", ".join(result)
