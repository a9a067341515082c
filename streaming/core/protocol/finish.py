"""Finish reasons from every provider, mapped onto the five the OpenAI APIs use, with the raw value kept.

Providers spell the same ending differently (xAI ``REASON_MAX_LEN``, Responses
``max_output_tokens``, Mistral ``model_length``, Gemini ``MAX_TOKENS`` / ``SAFETY``,
``end_turn``, ``eos``). ``normalize`` maps a value by its family: a filter or safety
stop is ``content_filter``, a token or length limit ``length``, a tool call
``tool_calls``, a natural end ``stop``. A value of no known family is kept as it is.
The record keeps the server's own value in ``finish_reason_raw`` whenever it differed.
"""

from __future__ import annotations

CANONICAL = frozenset({"stop", "length", "tool_calls", "content_filter", "function_call"})
# (family, words that name it), checked in this order: "max_content_tokens" is a limit, "content_filter" a filter.
_FAMILIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("content_filter", ("filter", "safety", "moderation", "blocked", "prohibited", "recitation", "spii", "guardrail")),
    ("length", ("length", "max", "token", "len", "limit", "truncat")),
    ("tool_calls", ("tool", "function")),
    ("stop", ("stop", "eos", "end_turn", "finish", "done")),
)


def normalize(raw: object) -> tuple[str | None, str | None]:
    """(the canonical finish reason, the raw value when it differs from it); (None, None) for no value."""
    if raw is None or raw == "":
        return None, None
    value = str(raw)
    if value in CANONICAL:
        return value, None
    low = value.lower()
    for family, words in _FAMILIES:
        if any(w in low for w in words):
            return family, value
    return value, None
