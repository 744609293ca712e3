"""Tell the user a run has ended, on their phone: one POST to a webhook when a run
finishes, fails or stops (`notify.url`, else $STYLORA_NOTIFY_URL, so a URL set once in a
rental's shell profile never lands in a run's config).

The payload follows the service: ntfy takes the text as the body with a Title header;
Discord wants {"content"}; Slack (and the Slack-compatible Mattermost, Rocket.Chat, ...)
wants {"text"}; anything else gets JSON with the text and every fact as its own field.
The standard library's urllib does the one request: no client library is worth a
dependency for it. Sending never raises: a notification must not fail a run.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

from stylora_tui.config.build import http_url_problem
from stylora_tui.integrations import network

ENV_URL = "STYLORA_NOTIFY_URL"
TIMEOUT_S = 10.0
USER_AGENT = "stylora-tui"
NTFY_TAGS = {"finished": "white_check_mark", "failed": "x", "stopped": "stop_sign"}


@dataclass(frozen=True)
class RunEnded:
    run: str
    status: str  # finished, failed or stopped
    step: int
    total_steps: int
    duration_s: float  # training time, all sessions of the run together
    output: str  # the adapter (finished), the checkpoint to resume from (stopped), or the run folder
    reason: str = ""
    hint: str = ""
    suggested: str = ""  # the suggested adapter and why, in one line
    cost: str = ""  # what the run cost at the machine's price, when known
    take_home: tuple[str, ...] = ()  # commands that copy the outputs to the user's computer
    take_home_note: str = ""  # where the commands' address may not work from outside, why

    def text(self) -> str:
        head = f"stylora-tui: {self.run} {self.status} at step {self.step}/{self.total_steps} after {_duration(self.duration_s)}"
        lines = [head]
        if self.reason:
            lines.append(f"reason: {self.reason}")
        if self.hint:
            lines.append(f"hint: {self.hint}")
        lines.append(f"{'output' if self.status == 'finished' else 'run'}: {self.output}")
        if self.suggested:
            lines.append(f"suggested: {self.suggested}")
        if self.cost:
            lines.append(f"cost: {self.cost}")
        if self.take_home:
            lines.append("take it home:")
            lines.extend(f"  {command}" for command in self.take_home)
            if self.take_home_note:
                lines.append(f"  note: {self.take_home_note}")
        return "\n".join(lines)


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min {int(seconds % 60)} s"


def resolve_url(configured: str) -> str:
    return configured or os.environ.get(ENV_URL, "").strip()


def url_problem(configured: str) -> str:
    """What is wrong with the webhook address a run would post to ('' when none is set or
    it is a usable http(s) address), naming where it came from."""
    url = resolve_url(configured)
    problem = http_url_problem(url) if url else ""
    if not problem:
        return ""
    where = "notify.url" if configured else f"${ENV_URL}"
    return f"{where} = {url!r} {problem}"


def kind_of(url: str, kind: str = "auto") -> str:
    if kind != "auto":
        return kind
    host, path = urlsplit(url).netloc.lower(), urlsplit(url).path
    if host.endswith(("discord.com", "discordapp.com")) and path.startswith("/api/webhooks"):
        return "discord"
    if host == "hooks.slack.com":
        return "slack"
    if host == "ntfy.sh" or host.startswith("ntfy."):
        return "ntfy"
    return "json"


def request_for(url: str, kind: str, ended: RunEnded) -> urllib.request.Request:
    kind = kind_of(url, kind)
    headers = {"User-Agent": USER_AGENT}
    if kind == "ntfy":
        body = ended.text().encode("utf-8")
        # HTTP headers are latin-1: a run name outside it stays in the body only.
        title = f"{ended.run} {ended.status}"
        headers |= {
            "Title": title if title.isascii() else f"run {ended.status}",
            "Tags": NTFY_TAGS.get(ended.status, "information_source"),
            "Priority": "high" if ended.status == "failed" else "default",
            "Content-Type": "text/plain; charset=utf-8",
        }
    else:
        if kind == "discord":
            data = {"content": ended.text()[:2000], "username": USER_AGENT}  # Discord's message limit
        elif kind == "slack":
            data = {"text": ended.text()}
        else:
            data = {"text": ended.text(), **asdict(ended)}
        body = json.dumps(data).encode("utf-8")
        headers["Content-Type"] = "application/json"
    return urllib.request.Request(url, data=body, headers=headers, method="POST")


def send(url: str, kind: str, ended: RunEnded, timeout: float = TIMEOUT_S) -> str:
    """POST the message; returns '' on success, else what went wrong (never raises). Runs
    in a daemon thread joined with a deadline: a hung DNS lookup, which urllib's timeout
    does not cover, must not keep a finished trainer alive."""
    problem = http_url_problem(url)
    if problem:
        return f"the webhook address {url!r} {problem}"
    result = {"error": f"no answer from the webhook within {timeout:.0f} s"}

    def post() -> None:
        try:
            with urllib.request.urlopen(request_for(url, kind, ended), timeout=timeout) as response:
                response.read(1024)
            result["error"] = ""
        except urllib.error.HTTPError as exc:
            result["error"] = f"the webhook answered HTTP {exc.code} {exc.reason}"
        except (OSError, ValueError, http.client.HTTPException) as exc:
            result["error"] = f"could not reach the webhook: {network.describe(exc, url)[0]}"

    thread = threading.Thread(target=post, name="notify", daemon=True)
    thread.start()
    thread.join(timeout + 5)
    return result["error"]
