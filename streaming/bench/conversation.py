"""Multi-turn conversations in a run, and the opt-out of prompt caching.

A conversation prompt with ``turns`` is replayed one user turn at a time; each turn is a request (and a
stored record, with ``conversation_id``, ``turn_index`` and a per-turn ``pair_id``, so streaming and non-streaming
replays pair turn by turn; its ``input_tokens`` grow with the history) whose
history holds the model's real answers to the earlier turns in place of any recorded assistant messages.
A failed turn ends its conversation: the next turn would have no real answer to build on.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from streaming.core.record import StreamRecord
from streaming.core.request import LLMRequest

if TYPE_CHECKING:
    from streaming.bench.matrix import WorkItem
    from streaming.bench.runner import _Runner
    from streaming.core.client import AsyncClient


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


async def run_conversation(runner: _Runner, client: AsyncClient, item: WorkItem) -> StreamRecord | None:
    """Replay ``item``'s conversation turn by turn through ``runner._one``; returns the last turn's record."""
    p = item.prompt
    assert p.messages is not None
    history: list[dict[str, Any]] = []
    rec: StreamRecord | None = None
    cid = f"{item.pair_id}|{item.seq}"
    for turn, (before, idx) in enumerate(turn_histories(p.messages, p.turns)):
        if turn and runner._should_stop_sending():
            break
        if turn == 0:
            history = list(before)
        user = p.messages[idx]
        req = runner._request(item, messages=[*history, user])
        rec = await runner._one(client, item, request=req, extra={"conversation_id": cid, "turn_index": turn, "pair_id": f"{item.pair_id}|turn-{turn}"})
        if not rec.ok or not rec.text:
            break
        history += [user, {"role": "assistant", "content": rec.text}]
    return rec
