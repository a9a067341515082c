"""What to ask (``LLMRequest``), how hard to retry (``RetryPolicy``), how long to wait (``Timeouts``), and the opt-in resume.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import httpx2

from streaming.core.config import Deployment
from streaming.core.record import StreamRecord
from streaming.errors import ConfigError

RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class LLMRequest:
    """What to ask: chat ``messages`` or a completions ``prompt``, and the sampling settings."""

    messages: list[dict[str, Any]] | None = None
    prompt: str | None = None
    api: str = "chat"
    stream: bool = True
    temperature: float | None = None
    max_tokens: int | None = None
    include_usage: bool = True
    seed: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    resume_of: str | None = None  # set by ``resume_request``: the attempt this one continues (copied to the record)

    @classmethod
    def chat(cls, prompt: str, system: str | None = None, **kw: Any) -> LLMRequest:
        msgs = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]
        return cls(messages=msgs, **kw)

    def body(self, dep: Deployment, include_usage: bool) -> dict[str, Any]:
        b: dict[str, Any] = {}
        if dep.provider != "azure":
            b["model"] = dep.model or dep.name
        if self.api == "chat":
            if not self.messages:
                raise ConfigError("request: field 'messages' is empty; give at least one message")
            b["messages"] = self.messages
        else:
            if self.prompt is None:
                raise ConfigError("request: field 'prompt' is missing for the completions API")
            b["prompt"] = self.prompt
        b["stream"] = self.stream
        if self.stream and include_usage:
            b["stream_options"] = {"include_usage": True}
        if self.temperature is not None:
            b["temperature"] = self.temperature
        if self.max_tokens is not None:
            b["max_tokens"] = self.max_tokens
        if self.seed is not None:
            b["seed"] = self.seed
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
    if req.api == "chat":
        msgs = [*(req.messages or []), {"role": "assistant", "content": text}, {"role": "user", "content": instruction}]
        return replace(req, messages=msgs, max_tokens=max_tokens, resume_of=link)
    return replace(req, prompt=(req.prompt or "") + text, max_tokens=max_tokens, resume_of=link)
