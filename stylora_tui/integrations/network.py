"""What went wrong on the network, in words a user on a rental can act on.

huggingface_hub 0.2x speaks requests (its errors derive from OSError), 1.x httpx and 2.x
httpx2 (theirs do not), and the standard library raises OSError, socket and ssl errors and
http.client's HTTPException. Code that caught one family let the others through as
tracebacks; this module recognises all of them by what they are (and what they wrap), so
every caller says the same thing for the same failure.
"""

from __future__ import annotations

import errno
import http.client
import os
import socket
import ssl
from urllib.parse import urlsplit

# The HTTP client libraries huggingface_hub and urllib stack on; their exceptions are
# network failures unless they carry an HTTP status (those are answers, said apart).
CLIENT_LIBRARIES = frozenset({"httpx", "httpx2", "httpcore", "httpcore2", "requests", "urllib3", "h11", "h2", "anyio"})
DNS_WORDS = (
    "name or service not known",
    "nodename nor servname",
    "temporary failure in name resolution",
    "no address associated",
    "getaddrinfo failed",
    "name resolution",
    "failed to resolve",
)


def _chain(exc: BaseException) -> list[BaseException]:
    """`exc` and everything it wraps (cause, context, urllib's `reason`, requests' args)."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo and len(seen) < 20:
        item = todo.pop(0)
        if item is None or any(item is s for s in seen):
            continue
        seen.append(item)
        todo.extend([item.__cause__, item.__context__])
        reason = getattr(item, "reason", None)
        if isinstance(reason, BaseException):
            todo.append(reason)
        todo.extend(a for a in getattr(item, "args", ()) if isinstance(a, BaseException))
    return seen


def _from_client_library(exc: BaseException) -> bool:
    return any(k.__module__.split(".")[0] in CLIENT_LIBRARIES for k in type(exc).__mro__)


def _has_status(exc: BaseException) -> bool:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None) is not None


def is_network_failure(exc: BaseException) -> bool:
    """A failure to reach or talk to a server (not an HTTP answer with a status)."""
    for item in _chain(exc):
        if _has_status(item):
            return False
        if isinstance(item, (OSError, TimeoutError, http.client.HTTPException)) or _from_client_library(item):
            return True
    return False


def _proxy_for(url: str) -> str:
    scheme = urlsplit(url).scheme or "https"
    for name in (f"{scheme}_proxy", f"{scheme.upper()}_PROXY", "all_proxy", "ALL_PROXY"):
        if os.environ.get(name):
            return os.environ[name]
    return ""


def describe(exc: BaseException, url: str = "") -> tuple[str, str]:
    """(what failed, what to do) for a network failure talking to `url`: DNS, refused, no
    route, timeout, TLS, proxy, a broken answer or a dropped connection."""
    host = urlsplit(url).netloc or "the server"
    chain = _chain(exc)
    text = " ".join(str(e) for e in chain).lower()
    names = " ".join(type(e).__name__ for e in chain).lower()
    codes = {getattr(e, "errno", None) for e in chain}
    proxy = _proxy_for(url) if url else ""
    check = "check the machine's internet connection, then run the same command again"
    if proxy and ("proxy" in names or "proxy" in text or codes & {errno.ECONNREFUSED}):
        return (
            f"the proxy {proxy} did not pass the request to {host}",
            "check HTTPS_PROXY/HTTP_PROXY (or unset them), then run the same command again",
        )
    if any(isinstance(e, socket.gaierror) for e in chain) or any(w in text for w in DNS_WORDS):
        return (
            f"the name {urlsplit(url).hostname or host} could not be resolved (DNS)",
            "the machine has no working DNS or no internet; " + check,
        )
    if codes & {errno.ECONNREFUSED} or any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in text:
        return f"{host} refused the connection", check
    if codes & {errno.ENETUNREACH, errno.EHOSTUNREACH} or "unreachable" in text or "no route" in text:
        return f"no route to {host} (the network is unreachable)", check
    if any(isinstance(e, (TimeoutError, socket.timeout)) for e in chain) or "timeout" in names or "timed out" in text:
        return (
            f"{host} did not answer in time",
            "the connection is slow or down; run the same command again (HF_HUB_DOWNLOAD_TIMEOUT=60 waits longer)",
        )
    if any(isinstance(e, ssl.SSLError) for e in chain) or "ssl" in names or "certificate" in text or "tls" in text:
        return (
            f"the secure (TLS) connection to {host} failed",
            "a proxy or firewall may intercept https: point SSL_CERT_FILE (and REQUESTS_CA_BUNDLE) at its certificate, "
            "or check the machine's clock",
        )
    if any(isinstance(e, http.client.HTTPException) for e in chain) or "protocol" in names:
        return f"{host} sent an answer that is not valid HTTP", "a captive portal or a broken proxy in between? " + check
    return f"the connection to {host} broke ({type(exc).__name__})", check
