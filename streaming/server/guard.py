"""Who may ask this server: no other web pages, no rebound host names, no other local users for what spends a key.

Three checks, in a pure ASGI middleware that answers before any body is read (so nothing is sent upstream):

- ``Host`` must be a loopback name or address, or a host the server was told to answer as (DNS rebinding: a page
  on ``attacker.example`` that re-points its name at 127.0.0.1 sends ``Host: attacker.example``);
- an ``Origin`` header, when present, must be this server's own origin (a page on another site, or ``null``, is refused);
- a request with a body must say ``Content-Type: application/json`` (a CORS "simple" POST, ``text/plain`` or a form,
  needs no preflight: it is refused here, before the app reads it).

``peer_uid`` tells which local user opened a loopback connection (Linux ``/proc/net/tcp``), so the chat page hands
its per-start token only to the user who runs the server.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
from collections.abc import Iterable
from typing import Any

from streaming.server.errors import error_response

LOOPBACK_HOSTS = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
BODY_METHODS = frozenset({b"POST", b"PUT", b"PATCH"})


def host_name(host: str) -> str:
    """``Host`` header → its name, lower case, without port or IPv6 brackets."""
    h = host.strip().lower()
    if h.startswith("["):
        return h[1 : h.find("]")] if "]" in h else h[1:]
    return h.rsplit(":", 1)[0] if h.count(":") == 1 else h


def is_loopback_host(name: str) -> bool:
    if name in LOOPBACK_HOSTS or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False


class RequestGuard:
    """Pure ASGI middleware: refuses foreign ``Host``s, foreign ``Origin``s and non-JSON bodies before the app runs.

    ``allowed_hosts``: names besides the loopback ones this server answers as (``serve --host``, ``--allow-host``).
    ``any_ip``: bound to every interface (0.0.0.0 / ::): an IP literal of any interface is accepted too.
    """

    def __init__(self, app: Any, allowed_hosts: Iterable[str] = (), any_ip: bool = False) -> None:
        self.app = app
        self.allowed = {host_name(h) for h in allowed_hosts if h}
        self.any_ip = any_ip

    def host_ok(self, name: str) -> bool:
        return is_loopback_host(name) or name in self.allowed or (self.any_ip and _is_ip(name))

    def refusal(self, scope: Any) -> tuple[int, str, str] | None:
        """(status, sentence, param) when the request is refused, else None."""
        headers = dict(scope.get("headers") or ())
        host = headers.get(b"host", b"").decode("latin-1")
        if host and not self.host_ok(host_name(host)):
            return (403, f"this server does not answer as {host_name(host)!r} (Host header): only loopback names"
                         f"{' and ' + ', '.join(sorted(self.allowed)) if self.allowed else ''}; "
                         "start it with --allow-host NAME to add one", "host")  # fmt: skip
        origin = headers.get(b"origin")
        if origin is not None:
            own = f"{scope.get('scheme', 'http')}://{host}".lower()
            if not host or origin.decode("latin-1").strip().lower() != own:
                return (403, f"requests from other web pages are refused (Origin {origin.decode('latin-1')!r} is not this server's "
                             f"own, {own!r}); use the page this server serves at /, or a client that is not a browser", "origin")  # fmt: skip
        if scope.get("method", "").encode() in BODY_METHODS and _has_body(headers):
            ctype = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
            if ctype != b"application/json":
                shown = ctype.decode("latin-1") or "none"
                return (415, f"the body must be JSON: send 'Content-Type: application/json' (got {shown})", "content-type")
        return None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            refused = self.refusal(scope)
            if refused is not None:
                status, message, param = refused
                code = "unsupported_media_type" if status == 415 else "forbidden"
                await error_response(status, message, "invalid_request_error", param, headers={"x-should-retry": "false"}, code=code)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _has_body(headers: dict[bytes, bytes]) -> bool:
    length = headers.get(b"content-length")
    if length is not None:
        return length.strip() not in (b"", b"0")
    return b"transfer-encoding" in headers


# -- which local user is on the other end of a loopback connection -------------------------------------------------


def _proc_hex(ip: str, port: int) -> str:
    """An address as /proc/net/tcp{,6} prints it: the address's 32-bit words in host byte order, then the port."""
    if ":" in ip:
        words = struct.unpack("=4I", socket.inet_pton(socket.AF_INET6, ip))
        return "".join(f"{w:08X}" for w in words) + f":{port:04X}"
    (word,) = struct.unpack("=I", socket.inet_aton(ip))
    return f"{word:08X}:{port:04X}"


def peer_uid(client: tuple[str, int] | None, server: tuple[str, int] | None, proc: str = "/proc/net") -> int | None:
    """The uid owning the client end of this loopback TCP connection; None when it cannot be told (not Linux, not loopback)."""
    if not client or not server or not is_loopback_host(host_name(str(client[0]))):
        return None
    try:
        mine, theirs = _proc_hex(str(client[0]), int(client[1])), _proc_hex(str(server[0]), int(server[1]))
    except (OSError, ValueError, struct.error):
        return None
    for name in ("tcp6", "tcp") if ":" in str(client[0]) else ("tcp", "tcp6"):
        try:
            with open(os.path.join(proc, name), encoding="ascii") as f:
                next(f, None)
                for line in f:
                    fields = line.split()
                    if len(fields) > 7 and fields[1] == mine and fields[2] == theirs:
                        return int(fields[7])
        except OSError:
            continue
    return None


def same_user(scope: Any) -> bool:
    """True when the connection comes from the user this server runs as (checked on Linux; False when unknown)."""
    uid = peer_uid(scope.get("client"), scope.get("server"))
    return uid is not None and uid == os.geteuid()
