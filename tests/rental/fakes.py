"""Stand-ins for what a rental has: provider CLIs (runpodctl, vastai) on PATH that record their
arguments, and an `ssh` that runs the remote command here, so the real rsync can mirror
over "ssh" to a local folder."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

CHECK_ENV = "FAKE_CLI_CHECK"  # paths whose existence each call records (os.pathsep-separated)


def fake_cli(bin_dir: Path, name: str, log: Path, exit_code: int = 0, says: str = "") -> Path:
    """An executable `name` that appends {"argv", "checked"} to `log` and exits `exit_code`."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / name
    script.write_text(
        f"""#!{sys.executable}
import json, os, sys
checked = {{p: os.path.exists(p) for p in os.environ.get({CHECK_ENV!r}, "").split(os.pathsep) if p}}
with open({str(log)!r}, "a") as handle:
    handle.write(json.dumps({{"argv": sys.argv[1:], "checked": checked}}) + "\\n")
print({says!r})
sys.exit({exit_code})
""",
        encoding="utf-8",
    )
    script.chmod(0o755)
    return script


def calls(log: Path) -> list[dict]:
    if not log.is_file():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]


def fake_ssh(bin_dir: Path) -> str:
    """A command for STYLORA_RSYNC_SSH: skips ssh's options and the host, runs the rest here."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "fake-ssh"
    script.write_text(
        f"""#!{sys.executable}
import os, sys
args = sys.argv[1:]
i = 0
while i < len(args) and args[i].startswith("-"):
    i += 2 if args[i] in ("-o", "-p", "-l", "-i", "-F") else 1
os.execvp("sh", ["sh", "-c", " ".join(args[i + 1:])])
""",
        encoding="utf-8",
    )
    script.chmod(0o755)
    return str(script)


def with_path(bin_dir: Path, env: dict | None = None) -> dict:
    base = dict(os.environ if env is None else env)
    return {**base, "PATH": f"{bin_dir}{os.pathsep}{base.get('PATH', '')}"}
