"""Opening a dataset's files without ever hanging.

A file is listed, its type checked, and only then opened: between the two a caption or an
image can be replaced by a FIFO (or a device), and a plain open() of a FIFO blocks until a
writer appears, forever in a dataset check. Opened without blocking, the file is checked
again by its descriptor, which cannot be swapped.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO


class NotRegularFile(OSError):
    def __init__(self, path: str | Path) -> None:
        super().__init__(errno.EINVAL, "not a regular file (a pipe, socket or device)", str(path))


def open_regular(path: str | Path) -> BinaryIO:
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotRegularFile(path)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
