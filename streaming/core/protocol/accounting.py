"""Token accounting: visible and reasoning output tokens from a usage block, whatever convention the server follows.

Three conventions are in use, and the totals say which one a response follows:

- **inside** (OpenAI, Azure): ``completion_tokens`` includes ``reasoning_tokens``; visible = completion − reasoning.
- **outside** (xAI): ``completion_tokens`` excludes them and ``total = prompt + completion + reasoning``;
  visible = completion. Chosen when the totals add up that way (or reasoning exceeds completion).
- **no split** (vLLM, SGLang, llama.cpp streaming ``reasoning_content`` with no details; Azure AI Foundry's
  top-level ``reasoning_tokens: 0``): reasoning text streamed but no count says how much of completion it was.
  The visible text is counted with the tokenizer (the model's own for OpenAI/Azure, else o200k_base as an
  estimate) and reasoning is the rest of completion; ``tokens_source`` says so: ``"bpe-openai:o200k_base (usage had no reasoning split)"``.

Reasoning tokens never enter ``output_tokens``, so tokens/s and TPOT are over visible tokens only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from streaming.core.tokens import count_tokens, estimate_tokens

if TYPE_CHECKING:
    from streaming.core.protocol.sink import RecordSink

NO_SPLIT = "usage had no reasoning split"
OUTSIDE = "usage (reasoning outside completion_tokens)"


@dataclass(frozen=True, slots=True)
class Usage:
    """A response's token usage, whatever its API called the fields."""

    prompt: int | None
    completion: int | None
    total: int | None
    reasoning: int | None
    cached: int | None


def _int(v: Any) -> int | None:
    return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _detail(u: dict[str, Any], key: str, name: str) -> int | None:
    d = u.get(key)
    return _int(d.get(name)) if isinstance(d, dict) else None


def _usage(u: dict[str, Any], prompt: str, completion: str, out_details: str, in_details: str) -> Usage:
    """One API's usage names → ``Usage``; a top-level ``reasoning_tokens`` (Azure AI Foundry) counts as the split."""
    reasoning = _detail(u, out_details, "reasoning_tokens")
    if reasoning is None:
        reasoning = _int(u.get("reasoning_tokens"))
    return Usage(_int(u.get(prompt)), _int(u.get(completion)), _int(u.get("total_tokens")), reasoning, _detail(u, in_details, "cached_tokens"))


def from_chat(u: dict[str, Any]) -> Usage:
    """Chat / legacy completions usage (``prompt_tokens``, ``completion_tokens``, ``completion_tokens_details``)."""
    return _usage(u, "prompt_tokens", "completion_tokens", "completion_tokens_details", "prompt_tokens_details")


def from_responses(u: dict[str, Any]) -> Usage:
    """Responses API usage (``input_tokens``, ``output_tokens``, ``output_tokens_details.reasoning_tokens``)."""
    return _usage(u, "input_tokens", "output_tokens", "output_tokens_details", "input_tokens_details")


def reasoning_outside(u: Usage) -> bool:
    """Whether the totals say completion excludes reasoning (xAI): total = prompt + completion + reasoning."""
    if not u.reasoning or u.completion is None:
        return False
    if u.total is not None and u.prompt is not None:
        return u.total == u.prompt + u.completion + u.reasoning and u.total != u.prompt + u.completion
    return u.reasoning > u.completion


def count_visible(provider: str, model: str, text: str, chunks: int) -> tuple[int, str]:
    """(visible tokens in ``text``, how counted): the model's tokenizer, else an o200k_base estimate, else chunks."""
    if not text:
        return 0, "usage"
    return count_tokens(provider, model, text) or estimate_tokens(text) or (chunks, "chunks")


def apply(b: RecordSink, u: Usage) -> None:
    """Put ``u`` on the builder's record: input, visible output, reasoning and cached tokens, and how they were found."""
    rec = b.rec
    if u.cached is not None:
        rec.cached_tokens = u.cached
    if u.completion is None:
        if u.reasoning is not None:
            rec.reasoning_tokens = u.reasoning
        return
    rec.input_tokens = u.prompt
    streamed_reasoning = any(b.reasoning_parts)
    if u.reasoning:
        rec.reasoning_tokens = u.reasoning
        if reasoning_outside(u):
            rec.output_tokens, rec.tokens_source = u.completion, OUTSIDE
        else:
            rec.output_tokens, rec.tokens_source = max(0, u.completion - u.reasoning), "usage"
    elif streamed_reasoning:
        visible, how = count_visible(rec.provider, rec.model, "".join(b.parts), rec.chunks)
        visible = min(visible, u.completion)
        rest = u.completion - visible
        if rest == 0 and u.total is not None and u.prompt is not None and u.total > u.prompt + u.completion:
            rest = u.total - u.prompt - u.completion  # completion held only the visible part: reasoning is what total adds
        rec.output_tokens, rec.reasoning_tokens = visible, rest
        rec.tokens_source = f"{how} ({NO_SPLIT})"
    else:
        rec.reasoning_tokens = u.reasoning
        rec.output_tokens, rec.tokens_source = u.completion, "usage"
