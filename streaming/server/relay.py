"""The SSE relay (``POST /chat/stream``) and the browser chat page (``GET /``).

The relay reads any configured deployment through the core ``AsyncClient`` (the
built-in ones at this server's own address) and re-sends it as Server-Sent Events:

    event: meta              once, with the first delta: {"response_id", "request_id", "deployment", "model", "simulated"}
    event: thinking          while a reasoning model thinks, before its first visible word (every 0.1 s at most, when there is
                             new reasoning): {"t_first_reasoning_s", "text"} (the summary text new since the last one)
    data: {"content": "…"}   one per text delta
    data: {"done": true, "finish_reason": …, "metrics": {"ttft_s", "tokens_per_s", "e2e_s", "output_tokens", "thinking_s", …}}
    data: [DONE]
    event: error             instead of done/[DONE] when the upstream record is not ok:
                             {"message", "request_id", "response_id", "status", "error_type", "http_status"}; then the stream ends
    : hb                     a comment after every ``heartbeat_s`` of silence (15 s; env STREAMING_RELAY_HEARTBEAT_S)

``response_id`` in ``meta`` is the upstream API's id; for the built-in deployments
``GET /debug/truth/{response_id}`` shows what the server saw (e.g. ``cancelled_at``).
When the browser goes away the upstream stream is closed at once.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import logging
import os
import re
import statistics
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from streaming.core.auth import Credentials
from streaming.core.client import AsyncClient, AsyncStream
from streaming.core.config import BUILTINS, Deployment
from streaming.core.record import StreamRecord
from streaming.core.request import LLMRequest
from streaming.errors import ConfigError
from streaming.server.asgi import RelayStream
from streaming.server.errors import error_response, validation_error_response
from streaming.server.guard import same_user

log = logging.getLogger("streaming.server.relay")
STATIC = Path(__file__).parent / "static"
MAX_BODY_BYTES = 256 * 1024
MAX_TOKENS_CAP = 4096
DEFAULT_MAX_TOKENS = 256
DEFAULT_HEARTBEAT_S = 15.0
SIM_HEADERS = ("x-sim-profile", "x-sim-fault")  # forwarded to simulated deployments only (tests, demos)


class RelayMessage(BaseModel):
    """One chat message."""

    model_config = ConfigDict(extra="forbid")
    role: Literal["system", "user", "assistant", "developer"]
    content: str = Field(max_length=MAX_BODY_BYTES)


class RelayRequest(BaseModel):
    """The body of ``POST /chat/stream``."""

    model_config = ConfigDict(extra="forbid")
    deployment: str = Field(min_length=1, max_length=200)
    messages: list[RelayMessage] = Field(min_length=1, max_length=500)
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int = Field(default=DEFAULT_MAX_TOKENS, ge=1, le=MAX_TOKENS_CAP)
    seed: int | None = None
    api: Literal["chat", "responses"] | None = None  # None: the deployment's
    reasoning_effort: Literal["minimal", "low", "medium", "high"] | None = None  # None: the deployment's


def sse(data: Any, event: str | None = None) -> bytes:
    """One SSE event; ``data`` is JSON-encoded unless it is already bytes."""
    payload = data if isinstance(data, bytes) else orjson.dumps(data)
    return (b"event: " + event.encode() + b"\n" if event else b"") + b"data: " + payload + b"\n\n"


DONE_EVENT = b"data: [DONE]\n\n"
THINKING_EVERY_S = 0.1
_END = object()


def metrics(rec: StreamRecord) -> dict[str, Any]:
    """The figures the page shows, as measured by the relay (the upstream's client)."""
    itl = rec.itl_s
    return {
        "ttft_s": rec.ttft_s, "tokens_per_s": rec.tokens_per_s, "e2e_s": rec.e2e_s, "output_tokens": rec.output_tokens,
        "tokens_source": rec.tokens_source, "tpot_s": rec.tpot_s, "itl_p50_s": statistics.median(itl) if itl else None,
        "t_headers_s": rec.t_headers_s, "chunks": rec.chunks, "retries": rec.retries, "retry_wait_s": rec.retry_wait_s,
        "t_first_reasoning_s": rec.t_first_reasoning_s, "thinking_s": rec.thinking_s, "reasoning_tokens": rec.reasoning_tokens, "api": rec.api,
    }  # fmt: skip


async def relay_events(stream: AsyncStream) -> AsyncIterator[bytes]:
    """Upstream deltas → SSE bytes, in the format of the module docstring. Closes ``stream`` when done or abandoned."""
    rec, dep = stream.record, stream.deployment
    meta_sent = False

    def meta() -> bytes:
        return sse({"response_id": rec.response_id, "request_id": rec.request_id, "deployment": dep.name, "model": rec.model,
                    "provider": dep.provider, "simulated": dep.provider == "simulated"}, "meta")  # fmt: skip

    deltas: asyncio.Queue[Any] = asyncio.Queue()

    async def read() -> None:  # the upstream stream, in a task of its own: the loop below can look at the thinking meanwhile
        try:
            async for d in stream:
                deltas.put_nowait(d)
        except Exception as e:  # noqa: BLE001 - handed to the loop below, which ends the stream with a sentence
            deltas.put_nowait(e)
        finally:
            deltas.put_nowait(_END)

    reader = asyncio.ensure_future(read())
    thought = ""  # the reasoning text already sent

    def thinking() -> bytes | None:
        nonlocal thought
        t, text = stream.reasoning_so_far
        if t is None or text == thought:
            return None
        new, thought = text[len(thought):], text
        return sse({"t_first_reasoning_s": t, "text": new}, "thinking")

    try:
        while True:
            if meta_sent:
                delta = await deltas.get()
            else:  # before the first visible word: show the thinking as it comes
                try:
                    delta = await asyncio.wait_for(deltas.get(), THINKING_EVERY_S)
                except TimeoutError:
                    if (ev := thinking()) is not None:
                        yield ev
                    continue
            if delta is _END:
                break
            if isinstance(delta, Exception):
                raise delta
            event = b"data: " + orjson.dumps({"content": delta}) + b"\n\n"
            if not meta_sent:  # one write for all: the first token must not wait for a second send
                meta_sent = True
                event = meta() + (thinking() or b"") + event
            yield event
        if not meta_sent:
            yield meta()
        if rec.ok:
            yield sse({"done": True, "finish_reason": rec.finish_reason, "metrics": metrics(rec), "response_id": rec.response_id, "request_id": rec.request_id})
            yield DONE_EVENT
        else:
            yield _error_event(rec, rec.error or "the request failed")
    except Exception:  # a bug of ours: still end the stream with one plain sentence
        log.exception("relay failed for %s", dep.name)
        yield _error_event(rec, "the relay failed while streaming this answer")
    finally:
        reader.cancel()
        with contextlib.suppress(BaseException):
            await reader
        await stream.aclose()


def _error_event(rec: StreamRecord, message: str) -> bytes:
    return sse({"message": message, "request_id": rec.request_id, "response_id": rec.response_id, "status": rec.status,
                "error_type": rec.error_type, "http_status": rec.http_status}, "error")  # fmt: skip


@dataclass
class _RelayCredentials(Credentials):
    """Credentials whose built-in server key is this server's own ``--api-key``."""

    server_key: str | None = field(default=None, repr=False)

    def lookup(self, var: str) -> str | None:
        if var == "STREAMING_SERVER_API_KEY" and self.server_key:
            return self.server_key
        return super().lookup(var)


def _bears(request: Request, accepted: list[bytes]) -> bool:
    """The request carries one of the ``accepted`` bearer tokens (compared in constant time)."""
    given = request.headers.get("authorization", "").encode()
    value = given[7:] if given[:7].lower() == b"bearer " else b""
    return bool(value) and any(hmac.compare_digest(value, t) for t in accepted)


def _own_url(request: Request) -> str:
    """This server's address as the connection reached it (the local socket), else the request's base URL."""
    server = request.scope.get("server")
    if server and server[1]:
        host = str(server[0])
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{server[1]}"
    return str(request.base_url).rstrip("/")


def _page_html() -> tuple[str, str]:
    """index.html with sse.js inlined, and a CSP that allows only that inline script."""
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    html = html.replace("/*__SSE_PARSER__*/", (STATIC / "sse.js").read_text(encoding="utf-8"))
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(m.group(1).encode()).digest()).decode() + "'"
        for m in re.finditer(r"<script>(.*?)</script>", html, re.S)
    ]
    csp = f"default-src 'none'; script-src {' '.join(hashes)}; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'"
    return html, csp


def add_relay_routes(
    app: FastAPI,
    deployments: list[Deployment] | None = None,
    *,
    api_key: str | None = None,
    token: str | None = None,
    server_url: str | None = None,
    heartbeat_s: float | None = None,
) -> None:
    """Add ``POST /chat/stream``, ``GET /chat/deployments`` and ``GET /`` to ``app``.

    ``server_url`` is where the built-in deployments are read (default: this server's own address per request);
    ``api_key`` is this server's key, sent upstream to it. A deployment that spends a key is relayed only to a request
    bearing ``token`` (this start's) or ``api_key``; the page at ``/`` gets ``token`` when the user who runs this server asks.
    """
    deps = {d.name: d for d in (deployments if deployments is not None else BUILTINS)}
    beat = heartbeat_s if heartbeat_s is not None else float(os.environ.get("STREAMING_RELAY_HEARTBEAT_S", DEFAULT_HEARTBEAT_S))
    credentials = _RelayCredentials(server_key=api_key)
    accepted = [t.encode() for t in (token, api_key) if t]
    clients: dict[str, AsyncClient] = {}
    page: list[tuple[str, str]] = []

    def client_for(url: str) -> AsyncClient:
        c = clients.get(url)
        if c is None:
            c = clients[url] = AsyncClient(list(deps.values()), server_url=url, credentials=credentials, max_connections=512)
        return c

    @app.get("/chat/deployments")
    async def chat_deployments() -> dict[str, Any]:
        items = [{"name": d.name, "label": d.label, "provider": d.provider, "simulated": d.provider == "simulated",
                  "model": d.model, "description": d.description} for d in deps.values()]  # fmt: skip
        default = "sim-fast" if "sim-fast" in deps else next(iter(deps), None)
        return {"deployments": items, "default": default}

    @app.post("/chat/stream", response_model=None)
    async def chat_stream(request: Request) -> Any:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return error_response(413, f"the body is larger than {MAX_BODY_BYTES} bytes", param="body")
        raw = bytearray()
        async for part in request.stream():
            raw += part
            if len(raw) > MAX_BODY_BYTES:
                return error_response(413, f"the body is larger than {MAX_BODY_BYTES} bytes", param="body")
        try:
            body = RelayRequest.model_validate_json(bytes(raw))
        except ValidationError as e:
            return validation_error_response(e.errors())
        dep = deps.get(body.deployment)
        if dep is None:
            return error_response(404, f"unknown deployment {body.deployment!r}; see GET /chat/deployments", "not_found_error", "deployment")
        if dep.spends_key and not _bears(request, accepted):
            return error_response(401, f"deployment '{dep.name}' spends a key, so this server relays it only to whoever started it: send "
                                       "'Authorization: Bearer <this server's start token or --api-key>' (the page at / does so when opened "
                                       "by the same user on this machine); nothing was sent", "authentication_error", "authorization",
                                  headers={"x-should-retry": "false"})  # fmt: skip
        extra = {h: request.headers[h] for h in SIM_HEADERS if dep.provider == "simulated" and h in request.headers}
        req = LLMRequest(messages=[m.model_dump() for m in body.messages], temperature=body.temperature, max_tokens=body.max_tokens,
                         seed=body.seed, headers=extra, api=body.api, reasoning_effort=body.reasoning_effort)  # fmt: skip
        try:
            stream = client_for(server_url or _own_url(request)).stream(dep, req)
        except ConfigError as e:
            return error_response(503, f"deployment '{dep.name}' is not usable on this server: {e}", "configuration_error", "deployment")
        return RelayStream(relay_events(stream), beat)

    @app.get("/", response_class=HTMLResponse)
    async def chat_page(request: Request) -> HTMLResponse:
        if not page:
            page.append(_page_html())
        html, csp = page[0]
        if token and not api_key and same_user(request.scope):  # with --api-key the page asks for the key instead
            html = html.replace('<meta name="streaming-token" content="">', f'<meta name="streaming-token" content="{token}">', 1)
        return HTMLResponse(html, headers={"content-security-policy": csp + "; frame-ancestors 'none'", "cache-control": "no-store",
                                           "x-content-type-options": "nosniff", "cross-origin-resource-policy": "same-origin",
                                           "referrer-policy": "no-referrer"})  # fmt: skip
