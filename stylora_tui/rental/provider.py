"""The machine's provider, found from its environment, and how to stop it or give it back.

RunPod sets RUNPOD_POD_ID in every pod; `runpodctl stop pod ID` stops it (the volume is
kept, billing for the GPU ends), `runpodctl remove pod ID` deletes it. Vast.ai sets
CONTAINER_ID (and CONTAINER_API_KEY, the instance's own key) in every instance;
`vastai stop instance ID` and `vastai destroy instance ID`. `[rental] command` replaces
both (e.g. `sudo shutdown -h now` on a plain VM) and serves where neither is found.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field

from stylora_tui.display import printable

ACTION_TIMEOUT_S = 120


@dataclass(frozen=True)
class Provider:
    name: str  # as the user knows it: "RunPod pod abc123"
    commands: dict[str, list[str]] = field(default_factory=dict)  # stop / terminate -> argv

    def command_for(self, action: str) -> list[str]:
        return self.commands[action]


def detect(env: Mapping[str, str] | None = None, command: str = "") -> Provider | None:
    env = os.environ if env is None else env
    if command.strip():
        argv = ["sh", "-c", command]
        return Provider(f"command `{command}`", {"stop": argv, "terminate": argv})
    pod = env.get("RUNPOD_POD_ID", "").strip()
    if pod:
        return Provider(
            f"RunPod pod {pod}",
            {"stop": ["runpodctl", "stop", "pod", pod], "terminate": ["runpodctl", "remove", "pod", pod]},
        )
    instance = env.get("CONTAINER_ID", "").strip()
    if instance:
        key = env.get("CONTAINER_API_KEY", "").strip()
        auth = ["--api-key", key] if key else []
        return Provider(
            f"Vast.ai instance {instance}",
            {
                "stop": ["vastai", "stop", "instance", instance, *auth],
                "terminate": ["vastai", "destroy", "instance", instance, *auth],
            },
        )
    return None


def shown(argv: list[str]) -> str:
    """The command as it would be typed, with the API key hidden."""
    words = ["***" if i > 0 and argv[i - 1] == "--api-key" else word for i, word in enumerate(argv)]
    return argv[2] if words[:2] == ["sh", "-c"] else shlex.join(words)


def run_action(provider: Provider, action: str) -> tuple[bool, str]:
    """(succeeded, what it printed or why it could not run)."""
    argv = provider.command_for(action)
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=ACTION_TIMEOUT_S)
    except FileNotFoundError:
        return False, f"{argv[0]} is not installed here (it comes with the provider's image, or pip install {argv[0]})"
    except subprocess.TimeoutExpired:
        return False, f"{argv[0]} did not finish in {ACTION_TIMEOUT_S} s"
    output = printable((result.stdout + result.stderr).strip())[-2000:]
    return result.returncode == 0, output or f"exit {result.returncode}"


def price_per_hour(env: Mapping[str, str] | None = None) -> float | None:
    """What the provider says this machine costs per hour, where it says it: Vast.ai's CLI
    (`vastai show instance ID --raw`, dph_total). None where unknown."""
    env = os.environ if env is None else env
    instance = env.get("CONTAINER_ID", "").strip()
    if not instance or env.get("RUNPOD_POD_ID"):
        return None
    key = env.get("CONTAINER_API_KEY", "").strip()
    argv = ["vastai", "show", "instance", instance, "--raw", *(["--api-key", key] if key else [])]
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        price = float(json.loads(result.stdout)["dph_total"])
    except (OSError, subprocess.TimeoutExpired, ValueError, KeyError, TypeError):
        return None
    return price if price > 0 else None
