"""The commands that bring a run's outputs home: run on the user's own computer (scp or rsync
to this machine's public address and SSH port), or, on RunPod, `runpodctl send` here and
`runpodctl receive` there.

The address: RunPod's and Vast.ai's public IP and mapped SSH port where they say them
(RUNPOD_PUBLIC_IP / RUNPOD_TCP_PORT_22; PUBLIC_IPADDR / VAST_TCP_PORT_22), else the server
side of SSH_CONNECTION (the address and port this SSH session reached: behind a provider's
SSH proxy or a NAT an inside address, which `address_note` says).
"""

from __future__ import annotations

import getpass
import ipaddress
import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Reached:
    """Where this machine is reached over SSH."""

    host: str
    port: str
    # Read from SSH_CONNECTION: the address this session arrived at, which behind a provider's
    # SSH proxy or a NAT is an inside one (not what the user typed).
    from_session: bool


def address(env: Mapping[str, str]) -> Reached | None:
    for host_key, port_key in (("RUNPOD_PUBLIC_IP", "RUNPOD_TCP_PORT_22"), ("PUBLIC_IPADDR", "VAST_TCP_PORT_22")):
        if env.get(host_key) and env.get(port_key):
            return Reached(env[host_key].strip(), env[port_key].strip(), from_session=False)
    parts = env.get("SSH_CONNECTION", "").split()
    if len(parts) == 4:
        return Reached(parts[2], parts[3], from_session=True)
    return None


def address_note(env: Mapping[str, str] | None = None) -> str:
    """Where the commands' address may not work from the user's computer: why, and what to put
    in its place; "" where it is a public one (or a provider's)."""
    env = os.environ if env is None else env
    reached = address(env)
    if reached is None or not reached.from_session:
        return ""
    try:
        if ipaddress.ip_address(reached.host.split("%")[0]).is_global:
            return ""
    except ValueError:
        return ""
    return (
        f"{reached.host} is the address this SSH session reached, not a public one: if you ssh in through a "
        f"provider's proxy or a forwarded port, put the host and port you ssh to in place of {reached.host} and {reached.port}"
    )


def take_home(folder: Path, env: Mapping[str, str] | None = None, user: str | None = None) -> list[str]:
    """Commands, each complete, to copy `folder` to the user's computer (empty: no way known)."""
    env = os.environ if env is None else env
    user = user or getpass.getuser()
    folder = folder.absolute()
    found = []
    reached = address(env)
    if reached is not None:
        host, port = reached.host, reached.port
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
