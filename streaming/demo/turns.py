"""A demo turn outside Streamlit: the request it sends (from the chat so far), and saving it when it ends.

The page keeps the chat as a list of message dicts (``role``, ``content``, ``status``, ...); these
functions read it. Saving never raises into the chat: a failure comes back as a sentence.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import orjson

from streaming.core.record import StreamRecord
from streaming.core.request import LLMRequest

# Answers that stay in the conversation sent with the next prompt (a failed answer does not).
KEPT_IN_CONVERSATION = ("ok", "cancelled", "interrupted")


def conversation(history: list[dict[str, Any]], system: str) -> list[dict[str, str]]:
    """Chat messages for the next request: the system prompt, then every user message and every kept answer."""
    msgs = [{"role": "system", "content": system}] if system.strip() else []
    for m in history:
        if m["content"] and (m["role"] == "user" or m.get("status") in KEPT_IN_CONVERSATION):
            msgs.append({"role": m["role"], "content": m["content"]})
    return msgs


def build_request(history: list[dict[str, Any]], system: str, api: str, temperature: float | None, max_tokens: int | None,
                  reasoning_effort: str | None = None) -> LLMRequest:  # fmt: skip
    """The request for the chat so far: the whole conversation (chat, responses), or the system prompt and the last user message (completions)."""
    if api in ("chat", "responses"):
        return LLMRequest(messages=conversation(history, system), api=api, temperature=temperature, max_tokens=max_tokens,
                          reasoning_effort=reasoning_effort)  # fmt: skip
    last_user = next(m["content"] for m in reversed(history) if m["role"] == "user")
    prompt = (system.strip() + "\n\n" if system.strip() else "") + last_user
    return LLMRequest(prompt=prompt, api="completions", temperature=temperature, max_tokens=max_tokens, reasoning_effort=reasoning_effort)


PROMPT_CHARS = 2000  # of a turn's prompt kept with its records (what a replay matches questions against)


def prompt_of(req: LLMRequest) -> str:
    """The question a request asks: its last user message, or its prompt (completions)."""
    users = [m for m in req.messages or [] if m.get("role") == "user"]
    content = users[-1].get("content") if users else req.prompt
    return content if isinstance(content, str) else ""


def save_turn(records: list[StreamRecord], kind: str, db: Any | None, prompt: str | None = None) -> str | None:
    """Persist a finished turn: to ``db`` (a ``Store``, or None when saving is off) and, when ``STREAMING_DEMO_LOG`` is set,
    as JSON lines. The records of one turn (a race's two) share a ``pair_id``; ``prompt`` (its first 2,000 characters)
    is kept with them. Returns a sentence when it could not save."""
    log = os.environ.get("STREAMING_DEMO_LOG")
    if log:
        try:
            with open(log, "ab") as f:
                for r in records:
                    f.write(orjson.dumps({"kind": kind, "record": r.to_dict()}) + b"\n")
        except OSError:
            pass
    if db is None:
        return None
    try:
        run_id = db.get_or_create_demo_run()
        pair = uuid.uuid4().hex[:12] if len(records) > 1 else None
        for r in records:
            db.add_record(run_id, r, tag="demo", pair_id=pair, turn_kind=kind, **({"prompt": prompt[:PROMPT_CHARS]} if prompt else {}))
    except Exception as e:  # the chat matters more than the log
        return f"This turn was not saved to the results database ({type(e).__name__}: {str(e)[:120]})."
    return None


def default_store_path() -> str:
    from streaming.store import default_db_path

    return str(Path(default_db_path()).resolve())
