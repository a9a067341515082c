"""Simulated token source: a declared latency profile played out on the event loop."""

from __future__ import annotations

import asyncio
import math
import random
import re
import time
import zlib
from collections.abc import AsyncIterator
from typing import Any

from streaming.core.config import EFFORT_SCALE, SimProfile
from streaming.core.request import RESUME_INSTRUCTION

# Whole, coherent answers about what the demo is used for (streaming, latency, cloud, AI): one is picked from the prompt.
ANSWERS: dict[str, tuple[str, ...]] = {
    "streaming": (
        "Streaming sends each token to the reader as soon as the model produces it.",
        "The first words appear after a few hundred milliseconds instead of after the whole answer.",
        "The total time to generate the answer stays about the same.",
        "What changes is how long the user waits before anything happens on the screen.",
        "A chat that streams feels fast even when the answer is long.",
        "Server-sent events carry the tokens over one HTTP response that stays open.",
        "Each event holds a small piece of text, and the client appends it to what is already shown.",
        "Stopping a streamed answer closes the connection, and the server stops generating.",
    ),
    "latency": (
        "Latency has three parts that users feel in different ways.",
        "The time to the first token decides how long the screen stays empty.",
        "The gaps between tokens decide whether the text flows or stutters.",
        "The time to the last token is what a non-streaming user waits for.",
        "A benchmark that reports only the mean hides the slow tail that users remember.",
        "Percentiles such as p95 and p99 show that tail, with confidence intervals to say how sure they are.",
        "Queueing under load raises the time to the first token before it slows the tokens themselves.",
        "Measure on the client, as bytes arrive, because that is where the user waits.",
    ),
    "cloud": (
        "Cloud computing delivers servers, storage, databases and networking over the internet.",
        "You pay for what you use instead of buying hardware up front.",
        "A managed model endpoint in the cloud hides the GPUs behind an HTTP API.",
        "Provisioned throughput reserves capacity, so latency stays steady under load.",
        "Pay-as-you-go capacity is shared, so its latency varies with the traffic of others.",
        "Regions matter, because every network round trip adds to the time to the first token.",
        "Rate limits protect the shared service and answer with HTTP 429 when a client asks too fast.",
        "A good client retries after the time the service asks for, and records the wait.",
    ),
    "ai": (
        "A large language model writes text one token at a time.",
        "Each token is chosen from a probability distribution over its vocabulary.",
        "The temperature setting spreads or sharpens that distribution.",
        "Reading the prompt happens once, and then every new token needs another pass through the model.",
        "That is why long answers take longer, while long prompts mostly delay the first token.",
        "Smaller models answer faster but know less, so the choice is a trade-off.",
        "Instruction tuning teaches a base model to follow requests instead of merely continuing text.",
        "Evaluations compare models on the same prompts, so that the differences are real.",
    ),
}
# Short closing sentences of 1 to 5 words: they make an answer exactly the declared length and still end at a sentence end.
CLOSERS: dict[int, str] = {1: "Indeed.", 2: "That matters.", 3: "Measure it carefully.", 4: "Users notice the difference.",
                           5: "That is the main point."}  # fmt: skip
KEYWORDS: dict[str, tuple[str, ...]] = {
    "streaming": ("stream", "token", "sse", "event", "chunk", "stop", "word", "hello", "story"),
    "latency": ("latency", "fast", "slow", "ttft", "time", "wait", "percentile", "p95", "p99", "benchmark", "speed", "quick"),
    "cloud": ("cloud", "azure", "server", "region", "ptu", "throughput", "capacity", "rate", "price", "cost", "deploy"),
    "ai": ("ai", "model", "llm", "gpt", "temperature", "language", "neural", "learn", "intelligence", "prompt", "colour", "color"),
}
TOPICS = tuple(ANSWERS)


def pick_topic(prompt: str) -> str:
    """The topic whose keywords the prompt mentions most; ties and no match fall back to a stable hash of the prompt."""
    words = re.findall(r"[a-z0-9]+", prompt.lower())
    score = {t: sum(1 for w in words for k in KEYWORDS[t] if w.startswith(k)) for t in TOPICS}
    best = max(score.values())
    tied = [t for t in TOPICS if score[t] == best]
    return tied[zlib.crc32(prompt.encode()) % len(tied)] if len(tied) > 1 else tied[0]


def answer_words(prompt: str, n: int) -> list[str]:
    """Exactly ``n`` words of whole sentences, picked from the prompt: its topic's answer first, then the next topics'."""
    first = TOPICS.index(pick_topic(prompt))
    sentences = [s for k in range(len(TOPICS)) for s in ANSWERS[TOPICS[(first + k) % len(TOPICS)]]]
    sentences *= 1 + n // sum(len(s.split()) for s in sentences)  # a very long answer goes round again
    out: list[str] = []
    for sent in sentences:
        w = sent.split()
        if len(out) + len(w) > n:
            break
        out += w
    while len(out) < n:  # fill the rest with short whole sentences
        out += CLOSERS[min(5, n - len(out))].split()
    return out


def _text(content: Any) -> str:
    """A message's text: a string, or the text parts of a typed list (``input_text``, ``text``, …)."""
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content or "")


def sim_prompt(body: object, api: str) -> str:
    """The text the answer is picked from, the same way on every API: the last user message's text.

    Chat reads ``messages``; Responses reads ``input`` (a string, or messages whose content may be typed
    parts); completions reads ``prompt``. With no user message, the last message counts.
    """
    if api == "completions":
        return str(getattr(body, "prompt", "") or "")
    given = getattr(body, "messages", None) if api == "chat" else getattr(body, "input", None)
    if isinstance(given, str):
        return given
    msgs = [m.model_dump() if hasattr(m, "model_dump") else m for m in given or ()]
    msgs = [m for m in msgs if isinstance(m, dict)]
    users = [m for m in msgs if m.get("role") == "user"] or msgs
    return _text(users[-1].get("content")) if users else ""


def _text(content: object) -> str:
    if isinstance(content, list):  # typed parts: [{"type": "input_text" | "text" | "output_text", "text": …}]
        return " ".join(str(c.get("text", "")) for c in content if isinstance(c, dict))
    return str(content or "")


def sim_continuation(body: object) -> tuple[str, str] | None:
    """(the question, the answer so far) when the request asks to continue an answer: the chat (or Responses input)
    ends with that answer as an assistant message, alone (a prefix to go on from) or followed by the continue
    instruction (``core.request.resume_request``). None for any other request."""
    items = getattr(body, "messages", None) or getattr(body, "input", None)
    if not isinstance(items, list):
        return None
    msgs = [(m.get("role"), m.get("content")) if isinstance(m, dict) else (getattr(m, "role", None), getattr(m, "content", None)) for m in items]
    if len(msgs) >= 2 and msgs[-1][0] == "user" and _text(msgs[-1][1]).strip() == RESUME_INSTRUCTION:
        msgs = msgs[:-1]
    if len(msgs) < 2 or msgs[-1][0] != "assistant":
        return None
    question = next((_text(c) for r, c in reversed(msgs[:-1]) if r == "user"), "")
    return question, _text(msgs[-1][1])


_THOUGHTS = (
    "**Planning the answer** The user asks about latency. I should explain the first token, the gaps between "
    "tokens and the last token, and keep it short and concrete."
).split()


class SimSource:
    """Yields tokens on the profile's schedule; the schedule is absolute so lag does not accumulate."""

    def __init__(self, profile: SimProfile, max_tokens: int | None, seed: int | None, clock=time.perf_counter,
                 effort: str | None = None, prompt: str = "", already: int = 0) -> None:  # fmt: skip
        """``already``: words of this answer the reader has (a continuation): it goes on from the next one."""
        self.profile = profile
        # the whole answer to ``prompt``, less what was already said; max_tokens may cut it
        self.words = answer_words(prompt, profile.output_tokens)[already:] or CLOSERS[1].split()
        self.lead = " " if already else ""  # a continuation goes on after the text so far
        # a reasoning model thinks first; the budget (max_completion_tokens / max_output_tokens) includes its reasoning tokens
        reasoning = round(profile.reasoning_tokens * EFFORT_SCALE.get(effort or "medium", 1.0))
        limit = len(self.words)
        self.finish_reason = "stop"
        if max_tokens is not None and max_tokens <= reasoning:
            reasoning, limit, self.finish_reason = max_tokens, 0, "length"
        elif max_tokens is not None and max_tokens - reasoning < limit:
            limit, self.finish_reason = max_tokens - reasoning, "length"
        self.reasoning_limit = reasoning
        self.reasoning_generated = 0
        self.thinking_started_at: float | None = None  # when the first reasoning token was due (the server's truth)
        self.thinking_ended_at: float | None = None
        self.limit = limit
        self.rng = random.Random(seed)
        self.clock = clock
        self.generated = 0
        self.cancelled = False

    def _factor(self) -> float:
        j = self.profile.jitter
        return math.exp(j * self.rng.gauss(0.0, 1.0) - j * j / 2) if j > 0 else 1.0

    async def events(self, start: float) -> AsyncIterator[tuple[str, str]]:
        """("reasoning", summary word or "") per reasoning token, then ("text", piece) per visible token, on the schedule."""
        p = self.profile
        target = start + p.ttft_ms / 1000.0 * self._factor()
        gap = 1.0 / p.reasoning_tokens_per_s
        for i in range(self.reasoning_limit):
            delay = target - self.clock()
            while delay > 0:
                await asyncio.sleep(delay)
                delay = target - self.clock()
            if self.cancelled:
                return
            if self.thinking_started_at is None:
                self.thinking_started_at = self.clock()
            self.reasoning_generated += 1
            word = _THOUGHTS[i // 4] if i % 4 == 0 and i // 4 < len(_THOUGHTS) else ""  # a summary is shorter than the reasoning
            yield "reasoning", (word if i == 0 else " " + word) if word else ""
            target += gap * self._factor()
        if self.reasoning_limit:
            self.thinking_ended_at = self.clock()
        async for piece in self._visible(target):
            yield "text", piece

    async def tokens(self, start: float) -> AsyncIterator[str]:
        """The visible tokens only (the thinking phase, if any, passes in silence)."""
        async for kind, piece in self.events(start):
            if kind == "text":
                yield piece

    async def _visible(self, target: float) -> AsyncIterator[str]:
        gap = 1.0 / self.profile.tokens_per_s
        for i in range(self.limit):
            delay = target - self.clock()
            while delay > 0:  # event-loop timers may fire a little early; never emit before the schedule
                await asyncio.sleep(delay)
                delay = target - self.clock()
            if self.cancelled:
                return
            self.generated += 1
            word = self.words[i]
            yield (self.lead if i == 0 else " ") + word
            target += gap * self._factor()

    def cancel(self) -> None:
        self.cancelled = True
