"""Named instants where a test can inject a fault, so the kill campaign's scenarios run
deterministically: `STYLORA_FAULT=<point>:<nth>:<kind>` makes the trainer die (kind
`kill`: SIGKILL, as a reclaimed machine or the OOM killer would), fail a write (kind
`enospc`: the disk is full) or hang for good (kind `hang`: a deadlock, for the watchdog) the
nth time it reaches `<point>`. Unset, it costs one dict
lookup per call.
"""

from __future__ import annotations

import errno
import os
import signal
import threading

ENV = "STYLORA_FAULT"
ONCE_ENV = "STYLORA_FAULT_ONCE"
_seen: dict[str, int] = {}


def point(name: str) -> None:
    spec = os.environ.get(ENV, "")
    if not spec:
        return
    where, nth, kind = (spec.split(":") + ["1", "kill"])[:3]
    if where != name:
        return
    _seen[name] = _seen.get(name, 0) + 1
    if _seen[name] != int(nth):
        return
    if kind == "enospc":
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), name)
    if kind == "hang":
        # STYLORA_FAULT_ONCE=<file>: hang only where the file is not there yet (a trainer the
        # watchdog restarts must not hang again).
        once = os.environ.get(ONCE_ENV, "")
        if once and os.path.exists(once):
            return
        if once:
            open(once, "w").close()  # noqa: SIM115
        threading.Event().wait()
    os.kill(os.getpid(), signal.SIGKILL)
