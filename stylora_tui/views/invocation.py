"""Commands we print for the user to run later: they must work exactly as printed.

After an SSH drop the user pastes them into a new shell, often in another folder and
without the virtual environment on PATH: the program is named by its full path unless
PATH finds this very installation, arguments are quoted for the shell, and a run is named
with its runs root whenever its name alone could mean another run.
"""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path

from stylora_tui.run.catalog import ambiguous
from stylora_tui.run.layout import RunDir

SCRIPT = "stylora-tui"


def program() -> str:
    installed = Path(sys.executable).parent / SCRIPT
    on_path = shutil.which(SCRIPT)
    if installed.is_file():
        if on_path and Path(on_path).resolve() == installed.resolve():
            return SCRIPT
        return shlex.quote(str(installed.absolute()))
    if on_path:
        return SCRIPT
    return f"{shlex.quote(sys.executable)} -m stylora_tui"


def command(*args: str) -> str:
    return " ".join([program(), *(shlex.quote(str(a)) for a in args)])


def run_args(run: RunDir) -> list[str]:
    """`NAME`, with `--runs-dir ROOT` when the name alone might find another run."""
    return [run.name, "--runs-dir", str(run.path.parent)] if ambiguous(run) else [run.name]


def resume_command(run: RunDir) -> str:
    return command("--resume", *run_args(run))


def check_command(dataset: str | Path) -> str:
    return command("check", str(dataset))
