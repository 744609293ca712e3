"""The commands that bring a run's outputs home: run on the user's own computer (scp or rsync
to this machine's public address and SSH port), or, on RunPod, `runpodctl send` here and
`runpodctl receive` there.

The address: RunPod's and Vast.ai's public IP and mapped SSH port where they say them
(RUNPOD_PUBLIC_IP / RUNPOD_TCP_PORT_22; PUBLIC_IPADDR / VAST_TCP_PORT_22), else the server
side of SSH_CONNECTION (the address and port this SSH session reached).
"""

from __future__ import annotations

import getpass
import os
import shlex
from collections.abc import Mapping
from pathlib import Path


def address(env: Mapping[str, str]) -> tuple[str, str] | None:
    """(host, port) this machine is reached at over SSH, where known."""
    for host_key, port_key in (("RUNPOD_PUBLIC_IP", "RUNPOD_TCP_PORT_22"), ("PUBLIC_IPADDR", "VAST_TCP_PORT_22")):
        if env.get(host_key) and env.get(port_key):
            return env[host_key].strip(), env[port_key].strip()
    parts = env.get("SSH_CONNECTION", "").split()
    if len(parts) == 4:
        return parts[2], parts[3]
    return None


def take_home(folder: Path, env: Mapping[str, str] | None = None, user: str | None = None) -> list[str]:
    """Commands, each complete, to copy `folder` to the user's computer (empty: no way known)."""
    env = os.environ if env is None else env
    user = user or getpass.getuser()
    folder = folder.absolute()
    found = []
    reached = address(env)
    if reached is not None:
        host, port = reached
        host_part = f"[{host}]" if ":" in host else host  # IPv6
        source = f"{user}@{host_part}:{folder}"
        ssh = f"ssh -p {port}" if port != "22" else "ssh"
        found.append(
            f"rsync -avP -e {shlex.quote(ssh)} {shlex.quote(source + '/')} {shlex.quote('./' + folder.parent.name + '/')}"
        )
        found.append(f"scp {'-P ' + port + ' ' if port != '22' else ''}-r {shlex.quote(source)} .")
    if env.get("RUNPOD_POD_ID"):
        found.append(
            f"on this pod: runpodctl send {shlex.quote(str(folder))}   then at home: runpodctl receive <the code it prints>"
        )
    return found
