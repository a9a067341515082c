"""httpx2 as a transport: the request's send instant from its trace hook, and every read stamped as it returns.

Used by the synchronous client always, and by the asyncio client when ``transport="httpx"``
(proxies, HTTP/2). ``classify`` turns a transport exception into (status, error_type, sentence).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx2

Clock = Callable[[], float]
RETRYABLE = (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.ReadTimeout, httpx2.RemoteProtocolError, httpx2.ReadError)


def tls_problem(exc: BaseException) -> str | None:
    """A sentence when ``exc`` is a TLS failure (an untrusted certificate, a port that does not speak TLS), else None.
    Not retried: trying again cannot fix it."""
    text = str(exc)
    m = re.search(r"certificate verify failed: ([^(\]]+)", text, re.IGNORECASE)
    if m:
        return (f"the server's TLS certificate is not trusted ({m.group(1).strip()}); if the URL is right and the certificate is yours, "
                "set SSL_CERT_FILE to its CA file")  # fmt: skip
    if "WRONG_VERSION_NUMBER" in text or "wrong version number" in text:
        return "the TLS handshake failed: the server does not speak HTTPS on this port (is the URL's scheme http://?)"
    return None


def classify(exc: BaseException, got_headers: bool) -> tuple[str, str, str]:
    """(status, error_type, plain sentence) for a transport exception."""
    if isinstance(exc, httpx2.ReadTimeout):
        if got_headers:
            return "stalled", "stall_timeout", "the stream went silent for longer than the stall timeout"
        return "error", "header_timeout", "the server did not answer before the timeout"
    if isinstance(exc, httpx2.ConnectTimeout):
        return "error", "connect_timeout", "could not connect to the server in time"
    if isinstance(exc, httpx2.ConnectError) and (tls := tls_problem(exc)):
        return "error", "tls_error", tls
    if isinstance(exc, httpx2.ConnectError):
        return "error", "connect_error", "could not connect to the server (is it running, and is the URL right?)"
    if isinstance(exc, (httpx2.RemoteProtocolError, httpx2.ReadError)):
        if got_headers:
            return "interrupted", "connection_dropped", "the connection dropped mid-stream"
        return "error", "connection_reset", "the connection was closed before any response"
    return "error", type(exc).__name__, f"the request failed: {exc}"


class SendMark:
    """httpcore trace hook: stamps t0 the instant the request headers start going to the connection."""

    __slots__ = ("clock", "t0")

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.t0: float | None = None

    def sync(self, name: str, info: Any) -> None:
        if self.t0 is None and name.endswith("send_request_headers.started"):
            self.t0 = self.clock()

    async def aio(self, name: str, info: Any) -> None:
        if self.t0 is None and name.endswith("send_request_headers.started"):
            self.t0 = self.clock()


def send(http: httpx2.Client, clock: Clock, url: str, headers: dict[str, str], body: bytes, on_sent: Callable[[float, float | None], float]
         ) -> tuple[httpx2.Response, float, float, Iterator[tuple[float, bytes]]]:  # fmt: skip
    """(response, t0, t_headers, stamped body). ``on_sent(t_call, t0)`` runs even when the send fails, and returns t0."""
    mark = SendMark(clock)
    request = http.build_request("POST", url, headers=headers, content=body, extensions={"trace": mark.sync})
    t_call = clock()
    try:
        resp = http.send(request, stream=True)
    finally:
        t0 = on_sent(t_call, mark.t0)
    t_headers = clock()

    def stamped() -> Iterator[tuple[float, bytes]]:
        for data in resp.iter_raw():
            yield clock(), data

    return resp, t0, t_headers, stamped()


async def asend(http: httpx2.AsyncClient, clock: Clock, url: str, headers: dict[str, str], body: bytes,
                on_sent: Callable[[float, float | None], float]) -> tuple[httpx2.Response, float, float, AsyncIterator[tuple[float, bytes]]]:  # fmt: skip
    """The asyncio twin of ``send``."""
    mark = SendMark(clock)
    request = http.build_request("POST", url, headers=headers, content=body, extensions={"trace": mark.aio})
    t_call = clock()
    try:
        resp = await http.send(request, stream=True)
    finally:
        t0 = on_sent(t_call, mark.t0)
    t_headers = clock()

    async def stamped() -> AsyncIterator[tuple[float, bytes]]:
        async for data in resp.aiter_raw():
            yield clock(), data

    return resp, t0, t_headers, stamped()
