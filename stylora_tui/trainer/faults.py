"""Named instants where a test can inject a fault, so the kill campaign's scenarios run
deterministically: `STYLORA_FAULT=<point>:<nth>:<kind>` makes the trainer die (kind
`kill`: SIGKILL, as a reclaimed machine or the OOM killer would) or fail a write (kind
`enospc`: the disk is full) the nth time it reaches `<point>`. Unset, it costs one dict
lookup per call.
"""

from __future__ import annotations

import errno
import os
import signal

ENV = "STYLORA_FAULT"
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
    os.kill(os.getpid(), signal.SIGKILL)
