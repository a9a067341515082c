"""Find or start the built-in server for the ``local`` and ``sim-*`` deployments, and keep it up.

Order: ``STREAMING_SERVER_URL`` if set; else a new subprocess on a random free loopback
port, with a random token of its own (handed over its stdin: never on a command line,
printed, logged or stored). Its relay serves deployments that spend a key only to requests
bearing that token; this process's clients send it (``core.auth.use_server_token``).
A server found running is never adopted: it may be another user's. A server we started is
stopped when this process exits, and stops by itself if this process dies without saying
so (``--exit-with-parent``).

One URL per process: the demo, the Benchmark page and the Deployments page all get
the same server. A server we started is supervised: if it dies for any reason, the
next ``ensure_server()`` (or ``check_server()`` after a failed request) starts it again
on the same port and leaves a notice saying how it ended and where its log is. The
server's stdout and stderr go to that log file.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx2

from streaming.core.auth import ENV_SECRETS_FILE, secrets_file, server_token, use_server_token
from streaming.core.transport.tls import trusted_context
from streaming.errors import EndpointError, describe_exit

DEFAULT_HOST = "127.0.0.1"


DEFAULT_PORT = 8765


SERVICE = "streaming-llm-lab"


_lock = threading.Lock()


_current: ServerHandle | None = None  # the one server this process uses (started by us, or found)


_notice: str | None = None  # how the last server we started ended, until someone takes it


_restarts = [0]  # how many times this process restarted its server (after a crash, or by restart_server)


@dataclass
class ServerHandle:
    """A running server: its URL, and the process when we started it."""

    url: str
    process: subprocess.Popen[bytes] | None = None
    log_path: str | None = None
    deployments_file: str | None = None
    token: str | None = field(default=None, repr=False)

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
    key = os.environ.get("STREAMING_SERVER_API_KEY") or server_token()
    return {"Authorization": f"Bearer {key}"} if key else {}


def is_ours(url: str, timeout: float = 0.5) -> bool:
    """True when ``url`` answers /health as our server."""
    try:
        r = httpx2.get(url.rstrip("/") + "/health", timeout=timeout, headers=_auth_headers(), verify=trusted_context())
        return r.status_code == 200 and r.json().get("service") == SERVICE
    except (httpx2.HTTPError, ValueError):
        return False


def free_port(host: str = DEFAULT_HOST) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def start_server(port: int | None = None, deployments_file: str | None = None, timeout: float = 60.0, log_dir: str | None = None,
                 tls: tuple[str, str] | None = None) -> ServerHandle:  # fmt: skip
    """Start ``python -m streaming serve`` as a subprocess and wait until it answers. ``tls`` = (certificate, key) serves HTTPS:
    this process must trust the certificate (``SSL_CERT_FILE``)."""
    port = port or free_port()
    url = f"{'https' if tls else 'http'}://{DEFAULT_HOST}:{port}"
    cmd = [sys.executable, "-m", "streaming", "serve", "--host", DEFAULT_HOST, "--port", str(port), "--exit-with-parent", str(os.getpid()), "--token-stdin"]
    if tls:
        cmd += ["--tls-cert", str(Path(tls[0]).resolve()), "--tls-key", str(Path(tls[1]).resolve())]
    if deployments_file:
        cmd[3:3] = ["--deployments", str(deployments_file)]
    log_dir = log_dir or tempfile.gettempdir()
    log_path = str(Path(log_dir) / f"streaming-server-{port}.log")
    log = open(log_path, "ab")  # noqa: SIM115 - handed to the child
    env = dict(os.environ, PYTHONUNBUFFERED="1", STREAMING_SERVER_LOG=log_path)
    secrets_path = secrets_file()[1]  # the child runs in the package's directory: hand it the secrets file found here
    if secrets_path:
        env[ENV_SECRETS_FILE] = str(Path(secrets_path).resolve())
    token = secrets.token_urlsafe(32)
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.PIPE, env=env, cwd=str(Path(__file__).resolve().parents[2]))
    log.close()
    assert proc.stdin is not None
    with contextlib.suppress(OSError):  # a child that died at once is reported below, with its log
        proc.stdin.write(token.encode() + b"\n")
        proc.stdin.close()
    handle = ServerHandle(url=url, process=proc, log_path=log_path, deployments_file=deployments_file, token=token)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = Path(log_path).read_text(errors="replace")[-800:]
            raise EndpointError(f"the built-in server exited at start ({describe_exit(proc.returncode)}); log {log_path}:\n{tail}")
        if is_ours(url):
            return handle
        time.sleep(0.05)
    handle.stop()
    raise EndpointError(f"the built-in server did not answer within {timeout:.0f} s; log: {log_path}")


def ensure_server(deployments_file: str | None = None) -> ServerHandle:
    """The process's built-in server: reused while it runs, restarted on the same URL when it died, else started.

    ``deployments_file`` is handed to a server we start (its SSE relay serves those deployments);
    the first call decides it for the life of the process.
    """
    global _current, _notice
    env_url = os.environ.get("STREAMING_SERVER_URL")
    if env_url:
        if not is_ours(env_url, timeout=2.0):
            raise EndpointError(f"STREAMING_SERVER_URL={env_url} does not answer as the built-in server (start it with: python -m streaming serve)")
        return ServerHandle(url=env_url)
    with _lock:
        h = _current
        if h is not None and h.process is not None:
            if h.process.poll() is None:
                use_server_token(h.token)
                return h
            how = describe_exit(h.process.returncode)
            port = int(h.url.rsplit(":", 1)[1])
            log_dir = str(Path(h.log_path).parent) if h.log_path else None
            try:
                _current = start_server(port=port, deployments_file=h.deployments_file, log_dir=log_dir)
            except EndpointError:  # someone else took the port meanwhile: a new one
                _current = start_server(deployments_file=h.deployments_file, log_dir=log_dir)
            _notice = f"the built-in server exited ({how}); restarted at {_current.url}; log: {h.log_path}"
            _restarts[0] += 1
            atexit.register(_current.stop)
            use_server_token(_current.token)
            return _current
        _current = start_server(deployments_file=deployments_file)  # a random free port: nothing to guess, nothing to squat
        atexit.register(_current.stop)
        use_server_token(_current.token)
        return _current


def check_server() -> str | None:
    """After a request to the built-in server failed: if the server we started has died, restart it and say so.

    Returns the notice (``the built-in server exited (SIGKILL); restarted at …; log: …``), or None
    when the server is up (then the failure was the request's own).
    """
    h = _current
    if h is None or os.environ.get("STREAMING_SERVER_URL") or is_ours(h.url):
        return None  # the server is up: the failure was the request's own
    if h.process is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            h.process.wait(5.0)  # a killed process may take a moment to be reaped
    try:
        ensure_server()
    except EndpointError as e:
        return f"the built-in server stopped and could not be restarted: {e}"
    return take_notice()


def take_notice() -> str | None:
    """The last restart notice, once (then None until the next restart)."""
    global _notice
    with _lock:
        n, _notice = _notice, None
    return n


def warm_local(url: str, timeout: float = 120.0) -> None:
    """Ask the server to load the local model now, so the first answer's TTFT is not the load time."""
    try:
        r = httpx2.post(url.rstrip("/") + "/debug/load", timeout=timeout, headers=_auth_headers(), verify=trusted_context())
    except httpx2.HTTPError as e:
        raise EndpointError(f"the built-in server did not load the local model: {e}") from None
    if r.status_code != 200:
        raise EndpointError(f"the built-in server could not load the local model: {r.text[:300]}", status_code=r.status_code)


def restarts() -> int:
    """How many times this process restarted the built-in server."""
    return _restarts[0]


def restart_server() -> ServerHandle:
    """Stop the server this process started and start it again on the same URL (the demo's restart button).

    A server this process did not start (``STREAMING_SERVER_URL``, or one found running) is not ours
    to stop: EndpointError says so.
    """
    h = _current
    if h is None or h.process is None or os.environ.get("STREAMING_SERVER_URL"):
        raise EndpointError("this built-in server was started by another process: restart it there (python -m streaming serve)")
    h.stop()
    return ensure_server()
