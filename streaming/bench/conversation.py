"""Multi-turn conversations in a run, and the opt-out of prompt caching.

A conversation prompt with ``turns`` is replayed one user turn at a time; each turn is a request (and a
stored record, with ``conversation_id``, ``turn_index`` and a per-turn ``pair_id``, so streaming and non-streaming
replays pair turn by turn; its ``input_tokens`` grow with the history) whose
history holds the model's real answers to the earlier turns in place of any recorded assistant messages.
A failed turn ends its conversation: the next turn would have no real answer to build on. The runner
(``bench.engine``) sends the turns; this module says what each turn asks.
"""

from __future__ import annotations

import uuid
from dataclasses import replace

from streaming.core.request import LLMRequest


def unique_prefix(req: LLMRequest) -> LLMRequest:
    """The request with a random tag at the very start of its first message (or prompt): no prompt cache can match it."""
    tag = f"[{uuid.uuid4().hex[:16]}] "
    if req.messages:
        first, *rest = req.messages
        return replace(req, messages=[{**first, "content": tag + str(first.get("content") or "")}, *rest])
    return replace(req, prompt=tag + (req.prompt or ""))


def turn_histories(messages: tuple[dict[str, str], ...], turns: int) -> list[tuple[list[dict[str, str]], int]]:
    """Where each replayed turn's user message sits: (the messages before it that are kept, its index), for the first ``turns``."""
    out, kept = [], []
    for i, m in enumerate(messages):
        if m["role"] == "user":
            if len(out) == turns:
                break
            out.append((list(kept), i))
        elif m["role"] == "assistant" and out:
            continue  # a recorded answer: replaced by the model's real one
        else:
            kept.append(m)
    return out
