"""How many tokens a request may use when the caller gave a short default: a reasoning model needs room to think."""

from __future__ import annotations

from streaming.core.config import Deployment

REASONING_ANSWER_BUDGET = 2048  # tokens: a reasoning model's thinking counts against max tokens; this leaves room for the answer


def answer_budget(dep: Deployment, asked: int) -> int:
    """The max tokens to send ``dep`` for a default of ``asked``: at least REASONING_ANSWER_BUDGET for a reasoning deployment."""
    return max(asked, REASONING_ANSWER_BUDGET) if dep.reasoning else asked
