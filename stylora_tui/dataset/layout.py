"""kohya's dataset folder convention: `<repeats>_<name>` subfolders carry their repeat count."""

from __future__ import annotations

import re
from pathlib import Path

REPEAT_FOLDER = re.compile(r"^(\d+)_(.+)$")


def repeat_folders(root: Path, default_repeats: int) -> list[tuple[Path, int]]:
    """Each image folder with its repeats: the `N_name` subfolders, else `root` itself."""
    subfolders = []
    for child in sorted(root.iterdir()):
        match = REPEAT_FOLDER.match(child.name)
        if child.is_dir() and match and int(match.group(1)) > 0:
            subfolders.append((child, int(match.group(1))))
    return subfolders or [(root, default_repeats)]
