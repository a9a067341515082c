"""The openai SDK as a way in: ``timed(create, **kwargs)`` times an SDK call with the same parsers as the native client.

``timed`` calls ``create(**kwargs)`` itself and iterates the SDK's stream (chat, completions or
responses); each event goes to the API's parser (``core.protocol``) and its visible text is yielded,
ready for ``st.write_stream``. When the stream ends or is closed, ``.record`` holds a ``StreamRecord``
decided by ``RecordBuilder.finish`` like the native client's (``transport = "sdk"``).

The SDK builds and sends the request (its auth, headers, retries, HTTP errors); ``t0`` and
``t_headers`` come from its httpx2 transport (``core.sdk_transport``), which ``timed`` instruments once,
in place (or pass ``http_client=streaming.instrument(...)`` to the SDK yourself): the instant the
request headers go to the connection, and when the response's headers are in. A streamed body is then
read here, from the SDK's own response (``Stream.response``): each read stamped as it returns and
parsed by the native client's parser, so neither the SDK's request building nor its per-event
pydantic parsing (slow on its first use in a process: seconds for the Responses API's events on a
loaded machine) is counted as the server's time. When no httpx2 client can be found behind
``create``, ``t0`` falls back to the call, and ``transport_version`` says so.

Works with ``openai.OpenAI`` / ``AzureOpenAI`` (``for``) and ``AsyncOpenAI`` / ``AsyncAzureOpenAI``
(``async for``). The openai package is not imported here: the SDK's objects and exceptions are read by duck typing.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx2
import orjson

from streaming.core.protocol import RecordBuilder
from streaming.core.record import StreamRecord, utc_now
from streaming.core.sdk_transport import CURRENT, WireMarks, instrument_sdk
from streaming.core.stream import CANCELLED
from streaming.core.transport.httpx import classify


def _api_of(kwargs: dict[str, Any]) -> str:
    if "input" in kwargs:
        return "responses"
    return "chat" if "messages" in kwargs else "completions"


def _as_dict(obj: Any) -> dict[str, Any]:
    if isinstance(obj, dict):
        return obj
    dump = getattr(obj, "model_dump", None)
    return dump(mode="json", exclude_unset=True) if dump is not None else {}


def _sdk_version() -> str:
    try:
        from importlib.metadata import version

        return f"openai {version('openai')}"
    except Exception:  # not installed as a distribution (vendored): the stamps say enough
        return "openai"


def _provider(create: Any) -> str:
    """``azure`` for an Azure client; ``openai`` for OpenAI's own API; else ``compatible``: a vLLM, llama.cpp, … server
    behind ``base_url``, whose vocabulary is not OpenAI's (so a count without usage is not done with OpenAI's tokenizer)."""
    owner = getattr(getattr(create, "__self__", None), "_client", None)
    if owner is None:
        return "openai"  # nothing to go by (a plain function): the SDK's default
    if "Azure" in type(owner).__name__:
        return "azure"
    host = str(getattr(getattr(owner, "base_url", None), "host", "") or "")
    return "openai" if not host or host == "openai.com" or host.endswith(".openai.com") else "compatible"


class TimedSDKStream:
    """An SDK call being timed: iterate (or ``async for``) for visible text; ``.record`` once it has ended or been closed."""

    def __init__(self, create: Callable[..., Any], kwargs: dict[str, Any], clock: Callable[[], float] = time.perf_counter) -> None:
        self._create = create
        self.kwargs = dict(kwargs)
        self.api = _api_of(self.kwargs)
        self.clock = clock
        stream = bool(self.kwargs.get("stream"))
        if stream and self.api != "responses" and "stream_options" not in self.kwargs:
            self.kwargs["stream_options"] = {"include_usage": True}  # visible output tokens from usage, as the native client asks
        temperature = self.kwargs.get("temperature")
        effort = self.kwargs.get("reasoning_effort") or (self.kwargs.get("reasoning") or {}).get("effort")
        self.record = StreamRecord(deployment=str(self.kwargs.get("model", "")), provider=_provider(create), model=str(self.kwargs.get("model", "")),
                                   api=self.api, stream=stream, temperature=temperature,
                                   max_tokens=self.kwargs.get("max_tokens") or self.kwargs.get("max_completion_tokens") or self.kwargs.get("max_output_tokens"),
                                   usage_requested=stream, started_at=utc_now(), reasoning_effort=effort, transport="sdk")  # fmt: skip
        self._builder: RecordBuilder | None = None
        self._sdk_stream: Any = None
        self._done = False
        try:
            wired = instrument_sdk(create)
        except Exception:  # an httpx2 client without the attributes we wrap: stamp at the call, and say so
            wired = False
        self.marks = WireMarks(clock)
        self.record.transport_version = _sdk_version() + ("" if wired else "; stamped around create(), not at the transport")

    # -- stamps: the transport's when it saw this call, else our own ------------------------
    def _t0(self, t_call: float) -> float:
        m = self.marks
        return m.send if m.seen and m.send is not None else t_call

    def _stamp(self) -> float:
        """When the bytes of the event just handed over arrived: the transport's last read, else now."""
        m = self.marks
        return m.last_read if m.seen and m.last_read is not None else self.clock()

    # -- what both flavours share ---------------------------------------------------------------
    def _begin(self, t0: float, result: Any) -> RecordBuilder:
        b = self._builder = RecordBuilder(self.record, t0)
        resp = getattr(result, "response", None)  # the SDK's stream keeps the httpx2 response: status and headers
        m = self.marks
        t_headers = m.headers if m.seen and m.headers is not None else self.clock()
        b.on_headers(t_headers, getattr(resp, "status_code", 200), getattr(resp, "headers", {}) or {})
        return b

    def _event(self, t: float, obj: Any) -> str | None:
        b = self._builder
        assert b is not None
        d = _as_dict(obj)
        rec = self.record
        rec.events += 1
        if rec.t_first_event_s is None:
            rec.t_first_event_s = t - b.t0
        return b._api.event(b, t, str(d.get("type") or ""), d)

    def _read(self, t: float, data: bytes) -> list[str]:
        """One read of the streamed body, into the same parser as the native client's; its visible deltas."""
        assert self._builder is not None
        return self._builder.on_bytes(t, data)

    def _body(self, t: float, obj: Any) -> None:
        assert self._builder is not None
        self._builder.on_bytes(t, orjson.dumps(_as_dict(obj)))

    def _failed(self, t0: float, e: Exception) -> None:
        """An exception from the SDK: an HTTP error, an in-stream error event, a timeout or a dropped connection."""
        t = self.clock()
        b = self._builder or RecordBuilder(self.record, t0)
        self._builder = b
        status = getattr(e, "status_code", None)
        body = getattr(e, "body", None)
        names = {c.__name__ for c in type(e).__mro__}
        if status is not None:
            b.on_headers(t, status, getattr(getattr(e, "response", None), "headers", {}) or {})
            b.on_error_body(t, status, orjson.dumps({"error": body} if isinstance(body, dict) else {"error": {"message": str(e)}}))
            self._finish()
        elif "APIError" in names and "APIConnectionError" not in names:
            b.on_stream_error(body if isinstance(body, dict) else {"message": str(e)})
            self._finish()
        elif isinstance(e, httpx2.HTTPError):  # reading the SDK's response ourselves: httpx2's own exceptions
            status_, error_type, sentence = classify(e, got_headers=self.record.http_status is not None)
            self._finish(status=status_, error=sentence, error_type=error_type)
        elif "APITimeoutError" in names:
            self._finish(status="stalled", error=f"the stream stalled: {e}", error_type="stall_timeout")
        else:
            self._finish(status="interrupted", error=f"the connection was lost: {e}", error_type="connection_dropped")

    def _finish(self, t: float | None = None, **kw: Any) -> StreamRecord:
        if not self._done:
            self._done = True
            if self._builder is None:
                self._builder = RecordBuilder(self.record, self.clock())
            m = self.marks
            first = m.first_send if m.attempts > 1 else None  # the SDK retried: retry-inclusive times from its first send
            self._builder.finish(self.clock() if t is None else t, first_t0=first, **kw)
            if m.attempts > 1:
                self.record.retries = m.attempts - 1
        return self.record

    # -- synchronous --------------------------------------------------------------------------
    def __iter__(self) -> Iterator[str]:
        token = CURRENT.set(self.marks)  # the transport finds this call's marks here (same thread)
        t_call = self.clock()
        try:
            result = self._create(**self.kwargs)
        except Exception as e:
            self._failed(self._t0(t_call), e)
            return
        finally:
            CURRENT.reset(token)
        self._begin(self._t0(t_call), result)
        if not self.record.stream:
            t_end = self._stamp()
            self._body(t_end, result)
            self._finish(t_end)
            if self.record.text:
                yield self.record.text
            return
        self._sdk_stream = result
        raw = getattr(getattr(result, "response", None), "iter_bytes", None)
        try:
            if raw is not None:  # the SDK's HTTP response, read here: each read stamped, parsed by our parser, no pydantic
                for data in raw():
                    yield from self._read(self._stamp(), data)
                    if self._builder is not None and self._builder.done:
                        break
            else:  # something stream-like without a response: its objects, stamped as handed over
                for ev in result:
                    text = self._event(self._stamp(), ev)
                    if text:
                        yield text
                    if self._builder is not None and self._builder.done and self.record.api == "responses":
                        break
            self._finish(self._stamp())
        except Exception as e:
            self._failed(self._t0(t_call), e)
        finally:
            self.close()

    def close(self) -> StreamRecord:
        """Stop reading and release the connection; an unfinished request is recorded as cancelled."""
        self._finish(status="cancelled", error=CANCELLED, error_type="cancelled")
        s = self._sdk_stream
        if s is not None and hasattr(s, "close"):
            s.close()
        return self.record

    def __enter__(self) -> TimedSDKStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- asyncio ------------------------------------------------------------------------------
    async def _arun(self) -> AsyncIterator[str]:
        token = CURRENT.set(self.marks)  # the transport finds this call's marks here (same task)
        t_call = self.clock()
        try:
            result = await self._create(**self.kwargs)
        except Exception as e:
            self._failed(self._t0(t_call), e)
            return
        finally:
            CURRENT.reset(token)
        self._begin(self._t0(t_call), result)
        if not self.record.stream:
            t_end = self._stamp()
            self._body(t_end, result)
            self._finish(t_end)
            if self.record.text:
                yield self.record.text
            return
        self._sdk_stream = result
        raw = getattr(getattr(result, "response", None), "aiter_bytes", None)
        try:
            if raw is not None:
                async for data in raw():
                    for text in self._read(self._stamp(), data):
                        yield text
                    if self._builder is not None and self._builder.done:
                        break
            else:
                async for ev in result:
                    text = self._event(self._stamp(), ev)
                    if text:
                        yield text
                    if self._builder is not None and self._builder.done and self.record.api == "responses":
                        break
            self._finish(self._stamp())
        except Exception as e:
            self._failed(self._t0(t_call), e)
        finally:
            await self.aclose()

    def __aiter__(self) -> AsyncIterator[str]:
        return self._arun()

    async def aclose(self) -> StreamRecord:
        self._finish(status="cancelled", error=CANCELLED, error_type="cancelled")
        s = self._sdk_stream
        if s is not None and hasattr(s, "close"):
            await s.close()
        return self.record

    async def __aenter__(self) -> TimedSDKStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def timed(create: Callable[..., Any], /, **kwargs: Any) -> TimedSDKStream:
    """Time an openai SDK call: ``for text in timed(client.chat.completions.create, model=..., messages=..., stream=True)``,
    then ``.record``. ``create`` may be a sync or an async client's method (then ``async for``)."""
    return TimedSDKStream(create, kwargs)
