"""What to ask (``LLMRequest``), how hard to retry (``RetryPolicy``), how long to wait (``Timeouts``), and the opt-in resume.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import httpx2
import orjson

from streaming.core.config import APIS, REASONING_EFFORTS, Deployment
from streaming.core.record import StreamRecord
from streaming.errors import ConfigError

RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})


# Parameter adaptations learnt from 400 answers, per deployment, for the life of the process (see ``adapt``).
ADAPTED: dict[str, frozenset[str]] = {}


def adaptation(status: int, body: bytes) -> str | None:
    """Which adaptation a 400 asks for: "max_completion_tokens" (max_tokens refused) or "no_temperature"; else None."""
    if status != 400:
        return None
    try:
        err = orjson.loads(body).get("error") or {}
    except (orjson.JSONDecodeError, AttributeError):
        return None
    if not isinstance(err, dict):
        return None
    code, param, msg = err.get("code"), err.get("param"), str(err.get("message") or "")
    if code == "unsupported_parameter" and (param == "max_tokens" or "'max_tokens'" in msg):
        return "max_completion_tokens"
    if code in ("unsupported_value", "unsupported_parameter") and (param == "temperature" or "'temperature'" in msg):
        return "no_temperature"
    return None


@dataclass(frozen=True)
class LLMRequest:
    """What to ask: chat ``messages`` or a completions ``prompt``, and the sampling settings.

    ``api`` None means the deployment's (``Deployment.api``); ``resolved`` fills it in, and the
    reasoning effort, before a request is sent.
    """

    messages: list[dict[str, Any]] | None = None
    prompt: str | None = None
    api: str | None = None
    stream: bool = True
    temperature: float | None = None
    max_tokens: int | None = None
    include_usage: bool = True
    seed: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    resume_of: str | None = None  # set by ``resume_request``: the attempt this one continues (copied to the record)
    reasoning_effort: str | None = None  # minimal | low | medium | high; None: the deployment's
    extra_body: Mapping[str, Any] = field(default_factory=dict)  # merged into the body last (e.g. tools, tool_choice)

    @classmethod
    def chat(cls, prompt: str, system: str | None = None, **kw: Any) -> LLMRequest:
        msgs = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]
        return cls(messages=msgs, **kw)

    def resolved(self, dep: Deployment, api: str | None = None) -> LLMRequest:
        """This request with its API (``api``, else its own, else the deployment's) and reasoning effort filled in."""
        api = api or self.api or dep.api or "chat"
        if api not in APIS:
            raise ConfigError(f"request: field 'api' must be one of {list(APIS)}, got {api!r}")
        effort = self.reasoning_effort or (dep.reasoning_effort if dep.reasoning else None)
        if effort is not None and effort not in REASONING_EFFORTS:
            raise ConfigError(f"request: field 'reasoning_effort' must be one of {list(REASONING_EFFORTS)}, got {effort!r}")
        if api == "completions" and self.prompt is None and self.messages:
            raise ConfigError("request: the completions API takes a 'prompt', not chat messages; use --api chat or responses")
        return replace(self, api=api, reasoning_effort=effort)

    def body(self, dep: Deployment, include_usage: bool, adapted: frozenset[str] = frozenset()) -> dict[str, Any]:
        """The JSON body for ``dep``. ``adapted``: parameter changes learnt from the deployment's 400 answers."""
        api = self.api or dep.api or "chat"
        reasoning = dep.reasoning or self.reasoning_effort is not None
        b: dict[str, Any] = {}
        if dep.provider != "azure" or api == "responses" or dep.azure_v1:
            b["model"] = (dep.deployment or dep.model) if dep.provider == "azure" else (dep.model or dep.name)
        if api == "responses":
            if self.messages:
                b["input"] = self.messages
            elif self.prompt is not None:
                b["input"] = self.prompt
            else:
                raise ConfigError("request: field 'messages' is empty; give at least one message")
        elif api == "chat":
            if not self.messages:
                raise ConfigError("request: field 'messages' is empty; give at least one message")
            b["messages"] = self.messages
        else:
            if self.prompt is None:
                raise ConfigError("request: field 'prompt' is missing for the completions API")
            b["prompt"] = self.prompt
        b["stream"] = self.stream
        if self.stream and include_usage and api != "responses":  # Responses always sends usage with its terminal event
            b["stream_options"] = {"include_usage": True}
        if self.temperature is not None and not reasoning and "no_temperature" not in adapted:
            b["temperature"] = self.temperature
        if self.max_tokens is not None:
            if api == "responses":
                b["max_output_tokens"] = self.max_tokens
            elif reasoning or "max_completion_tokens" in adapted:
                b["max_completion_tokens"] = self.max_tokens
            else:
                b["max_tokens"] = self.max_tokens
        if api == "responses" and reasoning:
            r: dict[str, Any] = {}
            if self.reasoning_effort:
                r["effort"] = self.reasoning_effort
            summary = dep.reasoning_summary or "auto"
            if summary != "none":
                r["summary"] = summary
            b["reasoning"] = r
        elif reasoning and self.reasoning_effort:
            b["reasoning_effort"] = self.reasoning_effort
        if self.seed is not None:
            b["seed"] = self.seed
        b.update(self.extra_body)
        return b


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries before the first byte, honouring retry-after(-ms) up to ``max_wait_s``."""

    max_retries: int = 2
    base_s: float = 0.5
    max_wait_s: float = 20.0

    def wait(self, attempt: int, headers: Mapping[str, str] | None, rng: random.Random) -> float:
        if headers:
            for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
                v = headers.get(name)
                if v:
                    try:
                        return min(self.max_wait_s, max(0.0, float(v) * scale))
                    except ValueError:
                        pass
        return min(self.max_wait_s, self.base_s * (2**attempt) * (0.5 + rng.random()))


@dataclass(frozen=True)
class Timeouts:
    """``stall_s`` is the longest silence allowed between two reads, before or during the stream."""

    connect_s: float = 10.0
    stall_s: float = 60.0

    def httpx(self) -> httpx2.Timeout:
        return httpx2.Timeout(connect=self.connect_s, read=self.stall_s, write=self.connect_s, pool=None)


RESUMABLE = ("interrupted", "stalled")


RESUME_INSTRUCTION = (
    "Your previous answer was cut off. Continue it exactly where it stopped, "
    "without repeating what you already wrote and without starting over."
)


def can_resume(rec: StreamRecord) -> bool:
    """True when ``rec`` broke off mid-answer (dropped or stalled) with some text to continue."""
    return rec.status in RESUMABLE and bool(rec.text)


def resume_request(req: LLMRequest, previous: StreamRecord, partial: str | None = None, instruction: str = RESUME_INSTRUCTION) -> LLMRequest:
    """The opt-in "resume" strategy: ask again with the partial answer as an assistant prefix and an instruction to continue.

    Chat: ``messages + [assistant: partial, user: instruction]``; completions: ``prompt + partial``.
    ``partial`` defaults to ``previous.text`` (pass the joined text of every attempt so far to chain).
    The new request's record links back through ``resume_of`` (``previous``'s response id, else its
    request id). Never done silently: the caller decides, and gets a second record.
    """
    text = previous.text if partial is None else partial
    if not text:
        raise ConfigError("resume: the previous attempt has no partial answer to continue")
    link = previous.response_id or previous.request_id
    max_tokens = req.max_tokens
    if max_tokens is not None and previous.output_tokens:
        max_tokens = max(1, max_tokens - previous.output_tokens)
    if req.messages is not None:
        msgs = [*(req.messages or []), {"role": "assistant", "content": text}, {"role": "user", "content": instruction}]
        return replace(req, messages=msgs, max_tokens=max_tokens, resume_of=link)
    return replace(req, prompt=(req.prompt or "") + text, max_tokens=max_tokens, resume_of=link)
