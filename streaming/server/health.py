"""The built-in server's health as one line for the demo: up or down, the local model's state, restarts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx2

from streaming.core.transport.tls import trusted_context
from streaming.server import launcher


@dataclass(frozen=True)
class ServerHealth:
    """What ``GET /health`` said (None fields when the server did not answer)."""

    url: str
    up: bool
    worker_state: str | None = None  # running | starting | stopped | disabled
    worker_pid: int | None = None
    worker_restarts: int = 0
    server_restarts: int = 0
    error: str | None = None

    def line(self) -> str:
        """One line: "Built-in server up at URL · local model loaded (worker pid N) · restarted 0 times"."""
        if not self.up:
            return f"Built-in server at {self.url} is not answering ({self.error}). Restart it below."
        model = {"running": f"local model loaded (worker pid {self.worker_pid})", "starting": "local model loading",
                 "stopped": "local model not loaded yet (loads on first use)", "disabled": "local model disabled after repeated crashes"}  # fmt: skip
        n = self.server_restarts + self.worker_restarts
        restarted = f"restarted {n} time{'s' if n != 1 else ''}"
        if n:
            restarted += f" (server {self.server_restarts}, model worker {self.worker_restarts})"
        return f"Built-in server up at {self.url} · {model.get(self.worker_state or '', 'local model state unknown')} · {restarted}"


def server_health(url: str, timeout: float = 2.0) -> ServerHealth:
    """Ask ``url``/health; a server that does not answer is ``up=False`` with the reason."""
    try:
        r = httpx2.get(url.rstrip("/") + "/health", timeout=timeout, headers=launcher._auth_headers(), verify=trusted_context())
        r.raise_for_status()
        h: dict[str, Any] = r.json()
    except (httpx2.HTTPError, ValueError) as e:
        return ServerHealth(url, False, server_restarts=launcher.restarts(), error=type(e).__name__)
    return ServerHealth(url, True, h.get("local_worker_state"), h.get("local_worker_pid"), int(h.get("local_worker_restarts") or 0), launcher.restarts())
