"""HTTPS end to end: the built-in server over TLS, and the client's own transport (wire) streaming through it with exact
stamps, trusting what httpx2 trusts (``SSL_CERT_FILE``), refusing an untrusted certificate in one sentence."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from streaming.core.client import AsyncClient
from streaming.core.config import Deployment, SimProfile
from streaming.core.request import LLMRequest, RetryPolicy
from streaming.server.launcher import ServerHandle, start_server
from streaming.server.tls import self_signed

pytestmark = pytest.mark.xdist_group("tls")  # one worker runs the module, so its TLS server starts once

PROFILE = SimProfile(ttft_ms=150, tokens_per_s=200, output_tokens=20)


def remote(url: str) -> Deployment:
    """A deployment that is "remote" to the client: an OpenAI-compatible base URL over HTTPS."""
    return Deployment(name="tls-remote", provider="compatible", model="sim-tls", base_url=f"{url}/v1", sim=None)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerHandle, Path]]:
    d = tmp_path_factory.mktemp("tls")
    cert, key = self_signed(d)
    (d / "deployments.toml").write_text('[[deployments]]\nname = "sim-tls"\nprovider = "simulated"\nttft_ms = 150\ntokens_per_s = 200\noutput_tokens = 20\n')
    mp = pytest.MonkeyPatch()
    mp.setenv("SSL_CERT_FILE", str(cert))  # for the launcher's health check
    try:
        handle = start_server(deployments_file=str(d / "deployments.toml"), log_dir=str(d), tls=(str(cert), str(key)))
    finally:
        mp.undo()
    yield handle, cert
    handle.stop()


def run(dep: Deployment, transport: str = "auto", retries: int = 0) -> list:
    async def go() -> list:
        async with AsyncClient([dep], retry=RetryPolicy(max_retries=retries, base_s=0.05), transport=transport) as c:
            return [await c.run(dep, LLMRequest.chat(f"hello {i}", max_tokens=20)) for i in range(3)]

    return asyncio.run(go())


def test_wire_streams_over_https_with_exact_stamps(tls_server: tuple[ServerHandle, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    handle, cert = tls_server
    assert handle.url.startswith("https://")
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    for k in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(k, raising=False)
    recs = run(remote(handle.url))
    assert [r.status for r in recs] == ["ok"] * 3 and {r.transport for r in recs} == {"wire"}
    for r in recs:
        assert r.chunks == 20 and r.finish_reason == "stop"
        truth = httpx2.get(f"{handle.url}/debug/truth/{r.response_id}", verify=True).json()
        arrival = r.t0_monotonic + r.ttft_s - truth["chunk_times"][0]  # client stamp of the first token − server's write of it
        assert 0 <= arrival < 0.05, arrival  # decrypted and stamped right after the write, never before it
    # the same through httpx2: both transports trust the same certificate
    assert [r.status for r in run(remote(handle.url), transport="httpx")] == ["ok"] * 3


def test_an_untrusted_certificate_is_one_clear_sentence(tls_server: tuple[ServerHandle, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    handle, _ = tls_server
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    for transport in ("wire", "httpx"):
        (rec, *_) = run(remote(handle.url), transport, retries=2)
        assert rec.status == "error" and rec.transport == transport and rec.error_type == "tls_error" and rec.ttft_s is None
        assert rec.retries == 0  # trying again cannot fix a certificate
        assert rec.error == ("the server's TLS certificate is not trusted (self-signed certificate); if the URL is right and the certificate is "
                             "yours, set SSL_CERT_FILE to its CA file"), rec.error  # fmt: skip


def test_https_to_a_plain_http_port_says_so(server: ServerHandle) -> None:
    url = server.url.replace("http://", "https://")
    (rec, *_) = run(remote(url))
    assert rec.error_type == "tls_error" and "does not speak HTTPS on this port" in (rec.error or ""), rec.error


def test_serve_refuses_half_a_tls_pair(tmp_path: Path) -> None:
    cert, _ = self_signed(tmp_path)
    out = subprocess.run([sys.executable, "-m", "streaming", "serve", "--port", "0", "--tls-cert", str(cert)], capture_output=True, text=True,
                         timeout=60)  # fmt: skip
    assert out.returncode == 2 and "--tls-cert and --tls-key go together" in out.stderr
    out = subprocess.run([sys.executable, "-m", "streaming", "serve", "--port", "0", "--tls-cert", str(cert), "--tls-key", str(tmp_path / "nope.pem")],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode == 2 and "--tls-key" in out.stderr and "nope.pem: file not found" in out.stderr
