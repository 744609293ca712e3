"""The trainer's lock: an flock on the run directory itself, held by the live trainer for
its whole life. The kernel drops it even on kill -9, so "running" is decided by the lock,
never by a pid that may have been reused; and a file could be deleted (a second trainer
would lock a fresh one) where the folder cannot go while the run exists. `lock` holds the
trainer's pid, for people.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time

from stylora_tui.atomic import write_text_atomic
from stylora_tui.errors import RunError
from stylora_tui.run.layout import RunDir


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
