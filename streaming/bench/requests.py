"""What one benchmark item sends: its API, sampling, reasoning effort, and the prompt or the conversation so far."""

from __future__ import annotations

from typing import Any

from streaming.bench.matrix import BenchConfig, WorkItem
from streaming.core.request import LLMRequest


def request_for(cfg: BenchConfig, item: WorkItem, messages: list[dict[str, Any]] | None = None) -> LLMRequest:
    """The request for ``item``; ``messages`` replaces the prompt for a conversation's later turns."""
    api = item.api if item.api is not None else (cfg.api if cfg.api != "chat" else None)
    kw: dict[str, Any] = dict(api=api, stream=item.mode == "stream", temperature=item.temperature, max_tokens=cfg.max_tokens,
                              headers=dict(cfg.headers), reasoning_effort=item.reasoning_effort)  # fmt: skip
    if messages is not None or item.prompt.messages:  # a conversation (bench/conversation)
        return LLMRequest(messages=messages if messages is not None else list(item.prompt.messages or ()), **kw)
    if api == "completions":
        text = f"{cfg.system}\n\n{item.prompt.text}" if cfg.system else item.prompt.text
        return LLMRequest(prompt=text, **kw)
    return LLMRequest.chat(item.prompt.text, system=cfg.system, **kw)
