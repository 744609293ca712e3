"""What the mirror last did (mirror.json, written by the trainer's mirror thread): read by
`runs` and the views without touching the destination."""

from __future__ import annotations

import json
from dataclasses import dataclass

from stylora_tui.display import printable
from stylora_tui.run.layout import RunDir

MIRROR_FILE = "mirror.json"


@dataclass(frozen=True)
class MirrorState:
    destination: str
    last_ok_ts: float | None = None
    last_ok_s: float | None = None  # how long that send took
    error: str = ""  # the last failure while it stands
    error_ts: float | None = None
    retry_in_s: float | None = None
    failures: int = 0  # in a row


def read_mirror_state(run: RunDir) -> MirrorState | None:
    try:
        data = json.loads((run.path / MIRROR_FILE).read_text(encoding="utf-8"))
        return MirrorState(
            printable(str(data["destination"])),
            data.get("last_ok_ts"),
            data.get("last_ok_s"),
            printable(str(data.get("error", ""))),
            data.get("error_ts"),
            data.get("retry_in_s"),
            int(data.get("failures", 0)),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
