"""Continue, outside Streamlit: what it re-asks, and its text shown without repeating the answer above it.

Continue sends the chat up to the last question, the answer so far as an assistant message and an instruction to
go on (``core.request.resume_request``). A model may still start over, or repeat the last few words first: the
page shows the continuation through ``Dedup``, which holds back text while it could still be such a repeat and drops
it once it is one. The record keeps what the server sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_WORD = re.compile(r"\S+")
MIN_OVERLAP_WORDS = 2  # a repeat of the answer's last words counts from this many (one common word is chance)
MIN_RESTART_WORDS = 3  # a start-over that then goes another way counts from this many of the answer's first words


def join_parts(parts: list[str]) -> str:
    """The parts of one answer (the first attempt, then each continuation) as one text: a space between two parts
    only where neither side has one."""
    out = ""
    for p in parts:
        if out and p and not out[-1].isspace() and not p[0].isspace():
            out += " "
        out += p
    return out


def continuation_of(history: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    """What a Continue re-asks: the chat up to its last user message, and the answer so far (every part after it)."""
    last_user = max((i for i, m in enumerate(history) if m["role"] == "user"), default=-1)
    parts = [m["content"] for m in history[last_user + 1 :] if m["role"] == "assistant" and m.get("content")]
    return history[: last_user + 1], join_parts(parts)


class Dedup:
    """Feeds a continuation's text through, minus what ``shown`` (the answer above) already says.

    - a start-over: the continuation begins with ``shown`` (word for word): that part is dropped;
    - a start-over that goes another way after at least ``MIN_RESTART_WORDS`` of its words: those are dropped;
    - an overlap: it begins with the last ``MIN_OVERLAP_WORDS`` or more words of ``shown``: those are dropped.
    Text is held back only while it could still become one of these (for a genuine continuation: its first word
    or two at most).
    """

    def __init__(self, shown: str) -> None:
        self.words = shown.split()
        n = len(self.words)
        # word-boundary suffixes of ``shown`` it could begin with: the whole (a start-over) and its long-enough tails
        self.alive = [j for j in range(n) if j == 0 or n - j >= MIN_OVERLAP_WORDS]
        self.best: int | None = None  # the longest tail it has begun with so far
        self.buf = ""
        self.deciding = n > 0

    def push(self, text: str) -> str:
        """The part of ``text`` to show now (possibly held back text from before, possibly nothing yet)."""
        if not self.deciding:
            return text
        self.buf += text
        return self._decide(final=False)

    def flush(self) -> str:
        """At the end of the stream: whatever is still held back and is not a repeat."""
        return self._decide(final=True) if self.deciding else ""

    @classmethod
    def whole(cls, shown: str, text: str) -> str:
        """``text`` de-duplicated against ``shown`` in one go (what the streamed display ends with)."""
        d = cls(shown)
        return d.push(text) + d.flush()

    def _decide(self, final: bool) -> str:
        bw = self.buf.split()
        if not bw:
            return self._emit(0) if final else ""
        complete = final or self.buf[-1].isspace()  # else the last word may still grow
        n = len(bw)

        def could_grow_into(j: int) -> bool:  # the text so far is a strict beginning of the tail at j
            cand = self.words[j:]
            if n > len(cand):
                return False
            if complete:
                return n < len(cand) and bw == cand[:n]
            return bw[:-1] == cand[: n - 1] and cand[n - 1].startswith(bw[-1])

        def begins_with(j: int) -> bool:  # the text so far holds the whole tail at j
            cand = self.words[j:]
            return bw[: len(cand)] == cand and (n > len(cand) or complete)

        for j in self.alive:
            if begins_with(j) and (self.best is None or j < self.best):
                self.best = j  # the smallest start is the longest tail
        self.alive = [j for j in self.alive if could_grow_into(j) and (self.best is None or j < self.best)]
        if self.alive and not final:
            return ""  # could still become a (longer) repeat: hold
        if self.best is not None:
            return self._emit(len(self.words) - self.best)
        common = 0
        while common < min(n, len(self.words)) and bw[common] == self.words[common]:
            common += 1
        if common == n and final:  # all it said was the answer's beginning again
            return self._emit(n)
        return self._emit(common if common >= MIN_RESTART_WORDS else 0)

    def _emit(self, drop_words: int) -> str:
        """Stop deciding: the held text without its first ``drop_words`` words."""
        self.deciding = False
        text, self.buf = self.buf, ""
        if drop_words <= 0:
            return text
        end = 0
        for i, m in enumerate(_WORD.finditer(text)):
            if i == drop_words - 1:
                end = m.end()
                break
        return text[end:].lstrip()


@dataclass(frozen=True)
class Continues:
    """What a Continue goes on from: the answer so far as the page shows it, and how its last part ended (a status)."""

    shown: str
    status: str | None = None
