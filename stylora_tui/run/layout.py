"""Run directories: names, layout, the trainer's lock and the status every view agrees on.

The layout is the contract between the trainer and every reader (DESIGN.md):
one writer per file, `status.json` replaced atomically, the `lock` held with
`fcntl.flock` by the live trainer for its whole life (the kernel drops it even on kill -9),
so "running" is decided by the lock, never by a pid that may have been reused.
"""

from __future__ import annotations

import difflib
import errno
import fcntl
import json
import os
import re
import shlex
import time
from dataclasses import dataclass
from pathlib import Path

from stylora_tui import paths
from stylora_tui.atomic import write_json_atomic, write_text_atomic
from stylora_tui.errors import RunError

RUNS_DIR_ENV = "STYLORA_RUNS_DIR"
RUN_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$")
DEFAULT_NAME = re.compile(r"^run-(\d+)$")

NEW, RUNNING, STOPPED, CRASHED, FINISHED, FAILED = "new", "running", "stopped", "crashed", "finished", "failed"
RESUMABLE = (STOPPED, CRASHED)


def runs_root(cli_value: str | os.PathLike | None = None) -> Path:
    """Where new runs go: --runs-dir, else $STYLORA_RUNS_DIR, else ./runs."""
    value = cli_value or os.environ.get(RUNS_DIR_ENV) or "runs"
    return Path(value).expanduser().absolute()


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
    if len(found) == 1:
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


def validate_run_name(name: str) -> str:
    if not RUN_NAME.fullmatch(name or ""):
        raise RunError(
            f"run name {name!r} is not allowed",
            "use letters, digits, '-', '_' and '.' (not first), e.g. run-03 or hokusai_v2",
        )
    return name


@dataclass(frozen=True)
class RunDir:
    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    config = property(lambda self: self.path / "config.toml")
    dataset_manifest = property(lambda self: self.path / "dataset.json")
    events = property(lambda self: self.path / "events.jsonl")
    status_file = property(lambda self: self.path / "status.json")
    lock = property(lambda self: self.path / "lock")
    control = property(lambda self: self.path / "control")
    checkpoints = property(lambda self: self.path / "checkpoints")
    output = property(lambda self: self.path / "output")
    samples = property(lambda self: self.path / "samples")
    logs = property(lambda self: self.path / "logs")
    trainer_log = property(lambda self: self.path / "logs" / "trainer.log")

    def read_status(self) -> dict:
        try:
            data = json.loads(self.status_file.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
            return {}
        return data if isinstance(data, dict) else {}

    def outputs(self) -> list[str]:
        if not self.output.is_dir():
            return []
        return sorted(p.name for p in self.output.glob("*.safetensors"))


def run_path(root: Path, name: str) -> RunDir:
    """The run named `name` under `root`, refusing anything that resolves outside it."""
    validate_run_name(name)
    root_resolved = root.resolve()
    candidate = (root / name).resolve()
    if candidate.parent != root_resolved:
        raise RunError(
            f"run {name!r} resolves outside the runs root {root_resolved} (a symbolic link?)",
            "remove the link, or pass --runs-dir pointing at the folder that holds the run",
        )
    return RunDir(root / name)


def existing_run(root: Path, name: str) -> RunDir:
    run = run_path(root, name)
    if not run.path.is_dir():
        names = [r.name for r in list_runs(root)]
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        where = f"runs in {root}: {', '.join(names)}" if names else f"there are no runs in {root}"
        raise RunError(f"no run named {name!r} in {root}", f"{hint}{where} (set --runs-dir or {RUNS_DIR_ENV} for another root)")
    return run


def next_run_name(root: Path) -> str:
    numbers = [int(m.group(1)) for p in _run_dirs(root) if (m := DEFAULT_NAME.match(p.name))]
    return f"run-{(max(numbers, default=0) + 1):02d}"


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
                hint = f"it finished; pick another name (e.g. {next_run_name(root)}), or see it with `stylora-tui --resume {name}`"
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


def _run_dirs(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and RUN_NAME.fullmatch(p.name))


# ---------------------------------------------------------------- the lock
#
# The lock is an flock on the run directory itself, held by the live trainer for its whole
# life: a file could be deleted (and a second trainer would lock a fresh one), but the
# folder cannot go while the run exists. `lock` holds the trainer's pid, for people.


def _lock_fd(run: RunDir) -> int:
    return os.open(run.path, os.O_RDONLY | os.O_DIRECTORY)


def lock_holder(run: RunDir) -> bool:
    """True when a live process holds the run's lock."""
    try:
        fd = _lock_fd(run)
    except (FileNotFoundError, NotADirectoryError):
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return True
        raise
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def acquire_lock(run: RunDir) -> int:
    """Take the run's lock for the life of this process; RunError when another holds it."""
    fd = _lock_fd(run)
    # A viewer checking liveness holds a shared lock for microseconds: try a few times
    # before calling the run taken.
    for attempt in range(5):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                os.close(fd)
                raise
            if attempt == 4:
                os.close(fd)
                raise RunError(
                    f"run {run.name!r} already has a live trainer",
                    f"watch it with `stylora-tui --resume {run.name}`, or stop it with `stylora-tui stop {run.name}`",
                ) from None
            time.sleep(0.05)
    write_text_atomic(run.lock, f"{os.getpid()}\n")
    return fd


# ---------------------------------------------------------------- status


@dataclass(frozen=True)
class RunSummary:
    name: str
    status: str
    step: int
    total_steps: int
    pid: int | None
    outputs: tuple[str, ...]
    reason: str = ""
    checkpoint_step: int | None = None  # the newest complete checkpoint: where a resume starts
    checkpoint_error: str = ""  # the last checkpoint that could not be written, while it stands
    root: str = ""

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "status": self.status,
            "step": self.step,
            "total_steps": self.total_steps,
            "pid": self.pid,
            "outputs": list(self.outputs),
            "reason": self.reason,
            "checkpoint_step": self.checkpoint_step,
            "checkpoint_error": self.checkpoint_error,
            "root": self.root,
        }


def run_status(run: RunDir) -> RunSummary:
    data = run.read_status()
    state = data.get("state")
    running = lock_holder(run)
    if running:
        status = RUNNING
    elif state in (FINISHED, FAILED, STOPPED):
        status = state
    elif state is None:
        status = NEW
    else:
        # The file says it was running, but nobody holds the lock: the process died
        # without writing its final state (kill -9, OOM killer, a reclaimed machine).
        status = CRASHED
    pid = _live_pid(run, data) if running else None
    return RunSummary(
        name=run.name,
        status=status,
        step=_int(data.get("step")),
        total_steps=_int(data.get("total_steps")),
        pid=pid,
        outputs=tuple(run.outputs()),
        reason=str(data.get("reason") or ""),
        checkpoint_step=newest_checkpoint_step(run),
        checkpoint_error=str(data.get("checkpoint_error") or ""),
        root=str(run.path.parent),
    )


CHECKPOINT_NAME = re.compile(r"^step-(\d{6,})$")


def newest_checkpoint_step(run: RunDir) -> int | None:
    """The step of the newest complete checkpoint (its COMPLETE marker written last)."""
    try:
        entries = list(run.checkpoints.iterdir())
    except OSError:
        return None
    steps = [int(m.group(1)) for p in entries if (m := CHECKPOINT_NAME.match(p.name)) and (p / "COMPLETE").is_file()]
    return max(steps, default=None)


def _int(value) -> int:
    # status.json is ours, but a damaged or hand-edited one must not break `runs`.
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _live_pid(run: RunDir, status: dict) -> int | None:
    if isinstance(status.get("pid"), int):
        return status["pid"]
    # A trainer that is still starting has written its pid into the lock but no status yet.
    try:
        return int(run.lock.read_text().strip())
    except (OSError, ValueError):
        return None


def list_runs(root: Path) -> list[RunSummary]:
    return [run_status(RunDir(p)) for p in _run_dirs(root)]
