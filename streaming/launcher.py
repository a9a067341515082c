"""Find or start the built-in server for the ``local`` and ``sim-*`` deployments.

Order: ``STREAMING_SERVER_URL`` if set; else a server of ours already answering on
the default port; else a new subprocess on a free loopback port (the default one
when it is free). A server we started is stopped when this process exits, and
stops by itself if this process dies without saying so (``--exit-with-parent``).
"""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx2

from .errors import EndpointError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
SERVICE = "streaming-llm-lab"
_lock = threading.Lock()
_started: dict[str | None, ServerHandle] = {}


@dataclass
class ServerHandle:
    """A running server: its URL, and the process when we started it."""

    url: str
    process: subprocess.Popen[bytes] | None = None
    log_path: str | None = None

    def stop(self, timeout: float = 5.0) -> None:
        p = self.process
        if p is None or p.poll() is not None:
            return
        p.terminate()
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout)


def _auth_headers() -> dict[str, str]:
    key = os.environ.get("STREAMING_SERVER_API_KEY")
    return {"Authorization": f"Bearer {key}"} if key else {}


def is_ours(url: str, timeout: float = 0.5) -> bool:
    """True when ``url`` answers /health as our server."""
    try:
        r = httpx2.get(url.rstrip("/") + "/health", timeout=timeout, headers=_auth_headers())
        return r.status_code == 200 and r.json().get("service") == SERVICE
    except (httpx2.HTTPError, ValueError):
        return False


def free_port(host: str = DEFAULT_HOST) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
            return True
        except OSError:
            return False


def start_server(port: int | None = None, deployments_file: str | None = None, timeout: float = 60.0, log_dir: str | None = None) -> ServerHandle:
    """Start ``python -m streaming serve`` as a subprocess and wait until it answers."""
    port = port or free_port()
    url = f"http://{DEFAULT_HOST}:{port}"
    cmd = [sys.executable, "-m", "streaming", "serve", "--host", DEFAULT_HOST, "--port", str(port), "--exit-with-parent", str(os.getpid())]
    if deployments_file:
        cmd[3:3] = ["--deployments", str(deployments_file)]
    log_dir = log_dir or tempfile.gettempdir()
    log_path = str(Path(log_dir) / f"streaming-server-{port}.log")
    log = open(log_path, "ab")  # noqa: SIM115 - handed to the child
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=str(Path(__file__).resolve().parent.parent))
    log.close()
    handle = ServerHandle(url=url, process=proc, log_path=log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = Path(log_path).read_text(errors="replace")[-800:]
            raise EndpointError(f"the built-in server exited at start (code {proc.returncode}); log {log_path}:\n{tail}")
        if is_ours(url):
            return handle
        time.sleep(0.05)
    handle.stop()
    raise EndpointError(f"the built-in server did not answer within {timeout:.0f} s; log: {log_path}")


def ensure_server(deployments_file: str | None = None) -> ServerHandle:
    """A running built-in server, reused when one is up, else started (once per process)."""
    env_url = os.environ.get("STREAMING_SERVER_URL")
    if env_url:
        if not is_ours(env_url, timeout=2.0):
            raise EndpointError(f"STREAMING_SERVER_URL={env_url} does not answer as the built-in server (start it with: python -m streaming serve)")
        return ServerHandle(url=env_url)
    with _lock:
        h = _started.get(deployments_file)
        if h is not None and h.process is not None and h.process.poll() is None:
            return h
        default = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"
        if deployments_file is None and is_ours(default):
            return ServerHandle(url=default)
        port = DEFAULT_PORT if deployments_file is None and _port_free(DEFAULT_HOST, DEFAULT_PORT) else None
        h = start_server(port=port, deployments_file=deployments_file)
        _started[deployments_file] = h
        atexit.register(h.stop)
        return h


def warm_local(url: str, timeout: float = 120.0) -> None:
    """Ask the server to load the local model now, so the first answer's TTFT is not the load time."""
    try:
        r = httpx2.post(url.rstrip("/") + "/debug/load", timeout=timeout, headers=_auth_headers())
    except httpx2.HTTPError as e:
        raise EndpointError(f"the built-in server did not load the local model: {e}") from None
    if r.status_code != 200:
        raise EndpointError(f"the built-in server could not load the local model: {r.text[:300]}", status_code=r.status_code)
