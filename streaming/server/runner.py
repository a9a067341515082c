"""Run the app under uvicorn with a protocol that stamps when each request's last byte arrived.

That stamp, taken in ``data_received`` before the event loop schedules the app, is the
server's "whole request received" truth (``received_at``); queueing inside the server after
it counts as server time, as it does for a user.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import time
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class StampedHttpToolsProtocol(HttpToolsProtocol):
    """httptools protocol that records ``scope["state"]["received_at"]`` at the read completing the request."""

    _t_read = 0.0

    def data_received(self, data: bytes) -> None:
        self._t_read = time.perf_counter()
        super().data_received(data)

    def on_message_complete(self) -> None:
        scope = getattr(self, "scope", None)
        if scope is not None:
            state = scope.setdefault("state", {})
            state.setdefault("received_at", self._t_read)
            state["reset_connection"] = self.reset_connection  # the "reset" fault (ASGI gives an app no transport)
        super().on_message_complete()

    def reset_connection(self) -> None:
        """Abort this connection with a TCP RST (SO_LINGER 0): the peer reads "connection reset by peer"."""
        transport = self.transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()


def serve(app: Any, host: str, port: int, log_level: str = "warning", tls: tuple[str, str] | None = None) -> None:
    """Serve ``app``; ``tls`` = (certificate file, key file) serves HTTPS (``received_at`` is then stamped after decryption)."""
    cert, key = tls or (None, None)
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False, timeout_graceful_shutdown=2,
                            http=StampedHttpToolsProtocol, loop="uvloop", ssl_certfile=cert, ssl_keyfile=key)  # fmt: skip
    uvicorn.Server(config).run()
