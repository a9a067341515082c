"""What a run on real deployments will spend, estimated before any request is sent.

Input tokens: each request's messages counted with the o200k_base tokenizer (``bpe-openai``, offline),
plus ``MESSAGE_OVERHEAD`` per message and ``REPLY_PRIMING`` per request (the chat format's wrapping).
Output tokens: the request's max tokens (an upper bound), or ``UNSET_MAX_TOKENS`` when none is set.
Cost: ``price_in_per_1m`` / ``price_out_per_1m`` of the deployment in deployments.toml, when both are set.
Built-in deployments (``local``, ``sim-*``) cost nothing and are left out.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field

from streaming.core.config import Deployment

DEFAULT_BUDGET_TOKENS = 200_000
MESSAGE_OVERHEAD = 3
REPLY_PRIMING = 3
UNSET_MAX_TOKENS = 4096


@dataclass(frozen=True)
class PlannedRequest:
    """One request a run will send: where, its messages' texts, and its output budget."""

    deployment: Deployment
    texts: tuple[str, ...]
    max_tokens: int | None


@dataclass(frozen=True)
class DeploymentCost:
    """The estimate for one deployment of a run."""

    name: str
    requests: int
    input_tokens: int
    output_tokens: int
    cost_usd: float | None  # None: no price set for it


@dataclass(frozen=True)
class CostEstimate:
    """Tokens (and dollars, where priced) a run will spend on non-built-in deployments."""

    per_deployment: tuple[DeploymentCost, ...] = field(default_factory=tuple)

    @property
    def requests(self) -> int:
        return sum(d.requests for d in self.per_deployment)

    @property
    def input_tokens(self) -> int:
        return sum(d.input_tokens for d in self.per_deployment)

    @property
    def output_tokens(self) -> int:
        return sum(d.output_tokens for d in self.per_deployment)

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @property
    def cost_usd(self) -> float | None:
        """The priced deployments' total; None when none is priced."""
        costs = [d.cost_usd for d in self.per_deployment if d.cost_usd is not None]
        return sum(costs) if costs else None

    @property
    def unpriced(self) -> list[str]:
        return [d.name for d in self.per_deployment if d.cost_usd is None]

    def over(self, budget_tokens: int) -> bool:
        return self.tokens > budget_tokens

    def sentence(self) -> str:
        """One line: requests, input and output tokens, and the cost where known."""
        names = ", ".join(d.name for d in self.per_deployment)
        cost = self.cost_usd
        money = f", about ${cost:,.2f}" if cost is not None else ""
        if self.unpriced:
            money += f" (no price set for {', '.join(self.unpriced)}: add price_in_per_1m and price_out_per_1m to deployments.toml)"
        return (f"{self.requests:,} requests to {names}: about {self.input_tokens:,} input + {self.output_tokens:,} output tokens "
                f"= {self.tokens:,} tokens{money}")  # fmt: skip

    def refusal(self, budget_tokens: int) -> str:
        """The sentence for a run refused by the guard."""
        return (f"Not started: {self.sentence()}, above the budget of {budget_tokens:,} tokens; "
                f"nothing was sent. Run it with --yes (or raise --budget-tokens) to spend this.")  # fmt: skip


@functools.cache
def _encoding():  # noqa: ANN202 - bpe_openai.Encoding; loaded once, on first use (about 50 ms)
    import bpe_openai

    return bpe_openai.get_encoding("o200k_base")


@functools.lru_cache(maxsize=4096)
def count_tokens(text: str) -> int:
    """Tokens in ``text`` by o200k_base (GPT-4o and later); other models' tokenizers differ by a few percent."""
    return len(_encoding().encode(text, disallowed_special=()))


def input_tokens(texts: Iterable[str]) -> int:
    texts = list(texts)
    return sum(count_tokens(t) + MESSAGE_OVERHEAD for t in texts) + REPLY_PRIMING


def estimate(requests: Iterable[PlannedRequest]) -> CostEstimate:
    """Sum the planned requests per non-built-in deployment, in the order deployments first appear."""
    acc: dict[str, list[int]] = {}
    deps: dict[str, Deployment] = {}
    for r in requests:
        if r.deployment.builtin:
            continue
        a = acc.setdefault(r.deployment.name, [0, 0, 0])
        deps[r.deployment.name] = r.deployment
        a[0] += 1
        a[1] += input_tokens(r.texts)
        a[2] += r.max_tokens if r.max_tokens is not None else UNSET_MAX_TOKENS
    out = []
    for name, (n, tin, tout) in acc.items():
        d = deps[name]
        priced = d.price_in_per_1m is not None and d.price_out_per_1m is not None
        cost = (tin * d.price_in_per_1m + tout * d.price_out_per_1m) / 1e6 if priced else None  # type: ignore[operator]
        out.append(DeploymentCost(name, n, tin, tout, cost))
    return CostEstimate(tuple(out))
