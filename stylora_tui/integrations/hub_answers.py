"""What the hub answered, or why it could not be reached, said the way a user on a rental
can act on it; and the one address and read timeout every hub request uses."""

from __future__ import annotations

import os

from stylora_tui.errors import ModelError
from stylora_tui.integrations import network

# huggingface_hub's own read timeout for downloads (its default 10 s, the same variable).
DEFAULT_TIMEOUT_S = 10.0


def hub_address() -> str:
    from huggingface_hub import constants

    return constants.ENDPOINT


def timeout_s() -> float:
    try:
        return float(os.environ.get("HF_HUB_DOWNLOAD_TIMEOUT") or DEFAULT_TIMEOUT_S)
    except ValueError:
        return DEFAULT_TIMEOUT_S


def unreachable(what: str, exc: BaseException) -> ModelError:
    failed, todo = network.describe(exc, hub_address())
    return ModelError(
        f"could not reach the hub for {what}: {failed}",
        f"{todo}; to work without the hub, download the file elsewhere and pass its path",
    )


def answered(what: str, status: int | None) -> ModelError:
    """An HTTP answer that is not the file: the hub's own fault, a proxy's, or the user's."""
    if status is not None and status >= 500:
        return ModelError(
            f"the hub answered HTTP {status} for {what} (a fault on the hub's side)",
            "try again in a few minutes (https://status.huggingface.co)",
        )
    if status == 407:
        return ModelError(
            f"the proxy asked for credentials (HTTP 407) for {what}",
            "put the proxy's user and password in HTTPS_PROXY (http://user:pass@host:port)",
        )
    if status == 429:
        return ModelError(
            f"the hub is rate-limiting this machine (HTTP 429) for {what}",
            "wait a few minutes; logging in (`hf auth login`, or HF_TOKEN) raises the limit",
        )
    if status in (401, 403):
        return ModelError(
            f"the hub refused access (HTTP {status}) to {what}",
            "log in (`hf auth login`, or set HF_TOKEN) if the repo is gated or private",
        )
    return ModelError(f"the hub refused the request for {what} (HTTP {status or '?'})", "check the name, then try again")
