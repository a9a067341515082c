"""The built-in OpenAI-compatible server: the local model, the simulated deployments and the replays over HTTP.

Responses stream through ``TimedStream``, a raw ASGI response that stamps the
clock right after each chunk is handed to the transport and that stops the
token source the moment the client disconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

import orjson
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from streaming.core.config import BUILTINS, LOCAL_MODEL, Deployment, Fault, SimProfile
from streaming.core.replay import Recording
from streaming.errors import ConfigError
from streaming.server.asgi import (
    AfterReset,
    BearerAuth,
    Dropped,
    StampReceived,
    TimedStream,
)
from streaming.server.capacity import NO_SLOT, CapacityPool, at_capacity
from streaming.server.chunks import DONE, ChunkWriter, full_response
from streaming.server.errors import error_response, validation_error_response
from streaming.server.guard import RequestGuard
from streaming.server.local_frame import local_frame
from streaming.server.local_model import (
    LocalSource,
    LocalWorker,
    ModelCrashed,
    ModelUnavailable,
)
from streaming.server.models import (
    ChatRequest,
    CommonRequest,
    CompletionRequest,
    ResponsesRequest,
)
from streaming.server.reasoning import (
    ReasoningText,
    note_thinking,
    reasoning_rejection,
    source_events,
    tool_arguments,
)
from streaming.server.replay import Replays, ReplaySource
from streaming.server.responses_events import ResponsesWriter
from streaming.server.sim import SimSource, sim_continuation, sim_prompt
from streaming.server.sources import approx_tokens, pick_fault
from streaming.server.truth import Truth, TruthStore, prompt_digest
from streaming.version import __version__

log = logging.getLogger("streaming.server")
SERVICE = "streaming-llm-lab"
NO_RETRY = {"x-should-retry": "false"}  # the openai SDK's convention: a retry would not help


class ServerState:
    """What the routes share: known deployments, the truth store, request counters, the clock."""

    def __init__(self, deployments: list[Deployment] | None, clock: Callable[[], float],
                 recordings: Callable[[Deployment], Recording] | None = None) -> None:  # fmt: skip
        deps = deployments if deployments is not None else list(BUILTINS)
        self.replays = Replays(deps, recordings, clock)
        self.sims = {d.model or d.name: d.sim for d in deps if d.provider == "simulated" and d.sim}
        self.sims.update({d.name: d.sim for d in deps if d.provider == "simulated" and d.sim})
        self.local_names = {d.name for d in deps if d.provider == "local"} | {d.model for d in deps if d.provider == "local"} | {LOCAL_MODEL, "local"}
        self.truth = TruthStore()
        self.clock = clock
        self.counts: dict[str, int] = {}
        self.rng = random.Random(0)
        self.local = LocalWorker()
        self.capacity = CapacityPool(clock)


def create_app(deployments: list[Deployment] | None = None, api_key: str | None = None, clock: Callable[[], float] = time.perf_counter,
               preload: bool = False, recordings: Callable[[Deployment], Recording] | None = None, token: str | None = None,
               allowed_hosts: Iterable[str] = (), any_ip: bool = False) -> FastAPI:  # fmt: skip
    """The server app. ``api_key`` makes every route require ``Authorization: Bearer <key>``; ``preload`` starts the local model at once;
    ``recordings`` gives a replay deployment its recording (``store.recordings.RecordingLibrary.get``; read in a thread);
    ``token`` (one per start) is what the relay requires for a deployment that spends a key; ``allowed_hosts``/``any_ip``: see
    ``guard.RequestGuard`` (every route refuses other web pages, rebound host names and non-JSON bodies)."""
    state = ServerState(deployments, clock, recordings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if preload:
            asyncio.ensure_future(state.local.ensure_started()).add_done_callback(lambda t: t.cancelled() or t.exception())
        gc.collect()
        gc.freeze()  # what exists at start (the app, its imports) is never scanned again: collections under load stay short
        state.replays.preload()
        yield
        await state.local.stop()

    app = FastAPI(title="Streaming LLM Lab server", version=__version__, lifespan=lifespan)
    app.state.lab = state
    quiet = logging.getLogger("uvicorn.error")

    app.add_middleware(StampReceived, clock=clock)
    if api_key:
        app.add_middleware(BearerAuth, api_key=api_key)
    app.add_middleware(RequestGuard, allowed_hosts=allowed_hosts, any_ip=any_ip)  # outermost: before the key, before any body

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_error_response(exc.errors())

    @app.exception_handler(StarletteHTTPException)  # also unmatched routes (404) and wrong methods (405)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no route {request.method} {request.url.path}; see GET /openapi.json"
        elif exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}"
        return error_response(exc.status_code, detail, "not_found_error" if exc.status_code == 404 else "invalid_request_error")

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"service": SERVICE, "version": __version__, "pid": os.getpid(), **state.local.health()}

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        names = sorted(set(state.sims) | set(state.replays.known) | {"local", LOCAL_MODEL})
        return {"object": "list", "data": [{"id": n, "object": "model", "created": 0, "owned_by": SERVICE} for n in names]}

    @app.post("/debug/load")
    async def load() -> Any:
        t = clock()
        try:
            await state.local.ensure_started()
        except (ModelUnavailable, ModelCrashed) as e:
            return error_response(503, str(e), "server_error", code="model_unavailable", headers=NO_RETRY)
        return {"loaded": LOCAL_MODEL, "seconds": clock() - t, "worker_pid": state.local.pid}

    @app.get("/debug/truths")
    async def truths(model: str) -> dict[str, Any]:
        """Every response the server kept for ``model`` (fault and durability checks)."""
        return {"model": model, "responses": [t.to_dict() for t in state.truth.by_model(model)]}

    @app.get("/debug/truth/{response_id}")
    async def truth(response_id: str) -> dict[str, Any]:
        t = state.truth.get(response_id)
        if t is None:
            raise HTTPException(status_code=404, detail=f"no response with id {response_id!r}")
        return t.to_dict()

    async def handle(body: CommonRequest, request: Request, api: str, model: str, azure: bool) -> Any:
        received = getattr(request.state, "received_at", None) or clock()
        max_tokens = body.max_completion_tokens or body.max_tokens or getattr(body, "max_output_tokens", None)
        state.counts[model] = state.counts.get(model, 0) + 1
        prefix = {"chat": "chatcmpl-", "responses": "resp_"}.get(api, "cmpl-")
        rid = prefix + uuid.uuid4().hex[:24]
        reasoning_opts = getattr(body, "reasoning", None)
        effort = body.reasoning_effort or (reasoning_opts.effort if reasoning_opts else None)
        summary = api == "responses" and reasoning_opts is not None and reasoning_opts.summary is not None
        extra = body.model_extra or {}
        choice = extra.get("tool_choice")
        tool_call = bool(extra.get("tools")) and (choice == "required" or isinstance(choice, dict))
        header_profile = request.headers.get("x-sim-profile")
        fault: Fault | None = None
        profile, slot = None, NO_SLOT
        header_replay = request.headers.get("x-replay")
        if state.replays.serves(model, header_replay) and not header_profile:
            try:
                recording = await state.replays.recording(model, header_replay)
            except ConfigError as e:
                return error_response(404, str(e), "invalid_request_error", code="replay_unavailable", headers=NO_RETRY)
            source: Any = ReplaySource(recording.pick(sim_prompt(body, api))[0], max_tokens, clock)
            prompt_tokens = approx_tokens(body, api)
        elif header_profile or model in state.sims:
            try:
                profile = SimProfile.from_dict(orjson.loads(header_profile), "x-sim-profile header") if header_profile else state.sims[model]
            except Exception as e:
                raise HTTPException(status_code=400, detail=f"header 'x-sim-profile': {e}") from None
            if profile.reasoning_tokens:
                rejected = reasoning_rejection(body, api)
                if rejected is not None:
                    return rejected
            fault = pick_fault(state, model, profile, request.headers.get("x-sim-fault"))
            seed = body.seed if body.seed is not None else state.rng.randrange(2**31)
            going_on = sim_continuation(body)  # a Continue: the same answer, from the word after the text so far
            source = SimSource(profile, max_tokens, seed, clock, effort=effort, prompt=going_on[0] if going_on else sim_prompt(body, api),
                               already=len(going_on[1].split()) if going_on else 0)  # fmt: skip
            prompt_tokens = approx_tokens(body, api)
        elif model in state.local_names:
            if state.local.disabled:
                return error_response(503, state.local.disabled, "server_error", code="model_unavailable", headers=NO_RETRY)
            source = LocalSource(state.local, local_frame(body, api), max_tokens, body.temperature, body.seed, chat=api != "completions")
            prompt_tokens = 0
        else:
            raise HTTPException(status_code=404, detail=f"The model {model!r} does not exist; see GET /v1/models")
        tr = state.truth.add(Truth(response_id=rid, model=model, received_at=received, stream=body.stream, fault=fault.kind if fault else None,
                                   prompt_digest=prompt_digest(body), replayed=getattr(getattr(source, "answer", None), "request_key", None)))
        if hasattr(source, "on_done"):

            def _generation_done(src: Any) -> None:
                tr.tokens_generated, tr.tokens_after_cancel, tr.generation_stopped_at = src.generated, src.after_cancel, src.stopped_at

            source.on_done = _generation_done

        if fault is not None:
            if fault.kind == "reset":
                reset = getattr(request.state, "reset_connection", None)
                if reset is None:
                    return error_response(503, "fault 'reset' needs the server run by 'python -m streaming serve' (it owns the socket)", "server_error")
                tr.cancelled_at = clock()
                reset()
                return AfterReset()
            if fault.kind == "429":
                wait = max(fault.seconds, 0.0)
                return error_response(429, "Rate limit reached for this simulated deployment. Retry after the time given.", "rate_limit_error",
                              headers={"retry-after-ms": str(int(wait * 1000)), "retry-after": str(max(1, round(wait))), "x-request-id": rid})  # fmt: skip
            if fault.kind in ("500", "503"):
                return error_response(int(fault.kind), "The simulated deployment failed (injected fault).", "server_error", headers={"x-request-id": rid})
            if fault.kind == "slow_headers":
                await asyncio.sleep(fault.seconds)
        if profile is not None and profile.capacity and (slot := await state.capacity.acquire(f"{model}|{header_profile or ''}", profile)) is None:
            return at_capacity(profile, rid, tr, clock)
        start = slot.acquired_at or received  # with a capacity, the profile's schedule starts when a slot is free: queueing adds to TTFT
        tr.queued_s = slot.waited_s if profile is not None else None  # the server's queue time: x-queue-time-ms, GET /metrics

        if not body.stream:
            parts = []
            try:
                async for p in source.tokens(start):
                    parts.append(p)
                    tr.tokens_generated = source.generated  # visible while it runs (the fault and crash tests watch it)
            except (ModelCrashed, ModelUnavailable) as e:
                tr.finished_at = clock()
                code = "model_crashed" if isinstance(e, ModelCrashed) else "model_unavailable"
                return error_response(500 if code == "model_crashed" else 503, str(e), "server_error", code=code, headers={**NO_RETRY, "x-request-id": rid})
            finally:
                slot.release()
            text = "".join(parts)
            tr.tokens_generated = source.generated
            tr.finished_at = clock()
            note_thinking(tr, source)
            if prompt_tokens == 0:
                prompt_tokens = getattr(source, "prompt_tokens", 0)
            reasoning_n = getattr(source, "reasoning_generated", 0) if getattr(source, "reasoning_limit", 0) else None
            if api == "responses":
                rw = ResponsesWriter(rid, model, summary, bool(reasoning_n))
                return JSONResponse(rw.full("" if tool_call else text, source.finish_reason, prompt_tokens, source.generated, reasoning_n or 0,
                                            "Planning the answer." if reasoning_n else "", tool_arguments(text) if tool_call else None),
                                    headers={"x-request-id": rid})  # fmt: skip
            args = tool_arguments(text) if tool_call and api == "chat" else None
            return JSONResponse(full_response(rid, model, api, text, source.finish_reason, prompt_tokens, source.generated, reasoning_n, args),
                                headers={"x-request-id": rid})  # fmt: skip

        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        reasoning_model = bool(getattr(source, "reasoning_limit", 0))
        writer: Any = ResponsesWriter(rid, model, summary, reasoning_model) if api == "responses" else ChunkWriter(rid, model, api, azure, include_usage)
        show_reasoning = summary or (api == "chat" and getattr(source, "profile", None) is not None and source.profile.reasoning_content)

        async def events() -> AsyncIterator[tuple[bytes, str | None]]:
            kind = fault.kind if fault else None
            if api != "responses" and (azure or kind == "azure_annotations"):
                yield writer.prompt_filter(), None
            if api in ("chat", "responses"):
                yield writer.role(), None
            n = 0
            shown = 0
            finish = None
            tool_open = False
            try:
                async for what, piece in source_events(source, start):
                    if what == "reasoning":
                        out = writer.reasoning(piece) if show_reasoning or api == "responses" else b""
                        if out:
                            yield out, ReasoningText(piece) if piece and show_reasoning else None
                        continue
                    n += 1
                    shown += len(piece)
                    if tool_call:
                        if not tool_open:
                            tool_open = True
                            yield writer.tool_args('{"query": "'), '{"query": "'
                        arg = orjson.dumps(piece).decode()[1:-1]
                        yield writer.tool_args(arg), arg
                    else:
                        yield writer.content(piece), piece
                    tr.tokens_generated = source.generated
                    if kind and n == fault.after_tokens:
                        if kind == "drop":
                            raise Dropped()
                        if kind == "stall":
                            await asyncio.sleep(fault.seconds)
                        elif kind == "malformed":
                            yield b'data: {"id": "' + rid.encode() + b'", "choices": [{"delta": {"content": "oops"\n\n', None
                            return
                        elif kind == "error_event":
                            yield writer.error_event("The simulated deployment failed mid-stream (injected fault)."), None
                            return
                        elif kind == "content_filter":
                            finish = "content_filter"
                            source.cancel()
                            break
                        elif kind == "azure_annotations":
                            yield writer.annotation(shown), None
            except (ModelCrashed, ModelUnavailable) as e:
                yield writer.error_event(str(e), code="model_crashed" if isinstance(e, ModelCrashed) else "model_unavailable"), None
                return
            tr.tokens_generated = source.generated
            note_thinking(tr, source)
            reasoning_n = getattr(source, "reasoning_generated", 0) if reasoning_model else None
            if tool_open:
                yield writer.tool_args('"}'), '"}'
            if api == "responses":
                yield writer.finish(finish or source.finish_reason, prompt_tokens or getattr(source, "prompt_tokens", 0), source.generated, reasoning_n or 0), None
                return
            yield writer.finish("tool_calls" if tool_open and not finish else finish or source.finish_reason, filtered=finish == "content_filter"), None
            if kind == "azure_annotations":
                yield writer.annotation(shown), None
            if include_usage:
                yield writer.usage(prompt_tokens or getattr(source, "prompt_tokens", 0), source.generated, reasoning_n), None
            yield DONE, None

        def stop() -> None:
            source.cancel()
            slot.release()

        async def counted() -> AsyncIterator[tuple[bytes, str | None]]:
            try:
                async for item in events():
                    yield item
            except Dropped:
                quiet.debug("dropping %s after %d tokens (injected)", rid, source.generated)
                raise ConnectionAbortedError("injected drop") from None
            finally:
                slot.release()
                tr.tokens_generated = source.generated
                if hasattr(source, "after_cancel"):
                    tr.tokens_after_cancel = source.after_cancel

        return TimedStream(counted(), tr, stop, clock)

    @app.post("/v1/chat/completions")
    async def chat(body: ChatRequest, request: Request) -> Any:
        return await handle(body, request, "chat", body.model, azure=False)

    @app.post("/v1/completions")
    async def completions(body: CompletionRequest, request: Request) -> Any:
        return await handle(body, request, "completions", body.model, azure=False)

    @app.post("/v1/responses")
    async def responses(body: ResponsesRequest, request: Request) -> Any:
        return await handle(body, request, "responses", body.model, azure=False)

    @app.post("/openai/v1/responses")
    async def azure_responses(body: ResponsesRequest, request: Request) -> Any:
        return await handle(body, request, "responses", body.model, azure=True)

    @app.post("/openai/v1/chat/completions")
    async def azure_v1_chat(body: ChatRequest, request: Request) -> Any:
        return await handle(body, request, "chat", body.model, azure=True)

    @app.post("/openai/v1/completions")
    async def azure_v1_completions(body: CompletionRequest, request: Request) -> Any:
        return await handle(body, request, "completions", body.model, azure=True)

    @app.post("/openai/deployments/{name}/chat/completions")
    async def azure_chat(name: str, body: ChatRequest, request: Request) -> Any:
        if not request.query_params.get("api-version"):
            return error_response(400, "query parameter 'api-version' is missing (e.g. ?api-version=2024-10-21)", param="api-version")
        return await handle(body, request, "chat", name, azure=True)

    @app.post("/openai/deployments/{name}/completions")
    async def azure_completions(name: str, body: CompletionRequest, request: Request) -> Any:
        if not request.query_params.get("api-version"):
            return error_response(400, "query parameter 'api-version' is missing (e.g. ?api-version=2024-10-21)", param="api-version")
        return await handle(body, request, "completions", name, azure=True)

    from streaming.server.relay import add_relay_routes

    add_relay_routes(app, deployments, api_key=api_key, token=token)  # POST /chat/stream, GET /chat/deployments, GET /
    from streaming.server.metrics import add_metrics_route

    add_metrics_route(app, state)  # GET /metrics: Prometheus text, vLLM's names (README: "Server side")
    return app
