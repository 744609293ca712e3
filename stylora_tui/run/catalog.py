"""Where runs are: the runs roots used before (remembered, so a run is found by name from
any folder after an SSH drop), finding a run by name, and making a new one."""

from __future__ import annotations

import difflib
import json
import os
import shlex
from pathlib import Path

from stylora_tui import paths
from stylora_tui.atomic import write_json_atomic
from stylora_tui.errors import RunError
from stylora_tui.run.layout import RUNS_DIR_ENV, RunDir, next_run_name, run_path, runs_root, validate_run_name
from stylora_tui.run.status import FINISHED, RESUMABLE, RUNNING
from stylora_tui.run.summary import list_runs, run_status

# ---------------------------------------------------------------- finding runs from anywhere
#
# Runs live where they were started (often a big volume such as /workspace), but after an
# SSH drop the user comes back in another folder. Every runs root that held a new run is
# remembered, so `runs` lists them all and `--resume NAME` finds NAME in any of them.


def _roots_file() -> Path:
    return paths.state_dir() / "runs-roots.json"


def remember_root(root: Path) -> None:
    roots = [str(r) for r in known_roots()]
    if str(root) in roots:
        return
    try:
        _roots_file().parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(_roots_file(), [str(root), *roots])
    except OSError:
        pass  # a read-only home: runs are still found with --runs-dir


def known_roots() -> list[Path]:
    """Every remembered runs root that still exists, newest first."""
    try:
        data = json.loads(_roots_file().read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return []
    if not isinstance(data, list):
        return []
    return [Path(r) for r in dict.fromkeys(r for r in data if isinstance(r, str)) if Path(r).is_dir()]


def search_roots(cli_value: str | os.PathLike | None = None) -> list[Path]:
    """Where to look for runs: the one root asked for, else ./runs and every remembered root."""
    if cli_value or os.environ.get(RUNS_DIR_ENV):
        return [runs_root(cli_value)]
    return list(dict.fromkeys([runs_root(), *known_roots()]))


def locate_run(name: str, cli_value: str | os.PathLike | None = None) -> RunDir:
    """The run called `name` in the runs roots to search; ambiguity is an error naming each."""
    roots = search_roots(cli_value)
    if len(roots) == 1:
        return existing_run(roots[0], name)
    validate_run_name(name)
    found = [run_path(root, name) for root in roots if (root / name).is_dir()]
    # The folder the user is in comes first: every project starts at run-01, and from the
    # project's folder `run-01` means its own. The remembered roots are for coming back
    # from elsewhere, where the same name twice is a question.
    if len(found) == 1 or (found and found[0].path.parent == roots[0]):
        return found[0]
    if found:
        where = "; ".join(f"--runs-dir {shlex.quote(str(r.path.parent))}" for r in found)
        raise RunError(f"there are {len(found)} runs named {name!r}", f"say which: {where}")
    names = sorted({r.name for root in roots for r in list_runs(root)})
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    looked = ", ".join(str(r) for r in roots)
    raise RunError(f"no run named {name!r} in {looked}", f"{hint}see `stylora-tui runs`, or pass --runs-dir")


def ambiguous(run: RunDir) -> bool:
    """True when `--resume NAME` alone could mean another run than this one."""
    return any((root / run.name).is_dir() for root in known_roots() if root != run.path.parent) or (
        runs_root() != run.path.parent and (runs_root() / run.name).is_dir()
    )


def existing_run(root: Path, name: str) -> RunDir:
    run = run_path(root, name)
    if not run.path.is_dir():
        names = [r.name for r in list_runs(root)]
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        where = f"runs in {root}: {', '.join(names)}" if names else f"there are no runs in {root}"
        raise RunError(f"no run named {name!r} in {root}", f"{hint}{where} (set --runs-dir or {RUNS_DIR_ENV} for another root)")
    return run


def create_run(root: Path, name: str | None = None) -> RunDir:
    """Make a new, empty run directory; an existing name is refused (never reused in place)."""
    root.mkdir(parents=True, exist_ok=True)
    remember_root(root.absolute())
    if name is None:
        # Two launches at once may pick the same next name: mkdir decides, so retry.
        for _ in range(100):
            run = run_path(root, next_run_name(root))
            try:
                run.path.mkdir()
                break
            except FileExistsError:
                continue
        else:
            raise RunError(f"could not pick a new run name in {root}", "pass --run NAME")
    else:
        run = run_path(root, name)
        if run.path.exists():
            status = run_status(run).status
            if status == FINISHED:
                hint = (
                    f"it finished; pick another name (e.g. {next_run_name(root)}), or see it with `stylora-tui --resume {name}`"
                )
            elif status in RESUMABLE:
                hint = f"it is {status}; continue it with `stylora-tui --resume {name}`, or pick another name"
            elif status == RUNNING:
                hint = f"it is training now; watch it with `stylora-tui --resume {name}`"
            else:
                hint = f"pick another name (e.g. {next_run_name(root)})"
            raise RunError(f"run {name!r} already exists in {root}", hint)
        run.path.mkdir()
    for sub in (run.control, run.checkpoints, run.output, run.samples, run.logs):
        sub.mkdir(exist_ok=True)
    return run
