"""The prompt frame that makes the ``local`` base model answer, and the stop strings that end its answer.

Gemma 3 270M is a base model: it continues text, it does not follow a chat. Given its
own turn markers with the system prompt and the question inside (the old framing), it
mostly repeated them and ran on with more questions until the token limit. Measured on
the demo's four example prompts at temperature 0.7 (``benchmarks/local_answers.py``), a
plain transcript does best: the system prompt as a first line, two short worked
``Question: … / Answer: …`` pairs, the conversation so far as more pairs, then
``Question: <the last user message>`` and ``Answer:``. The model then writes one short
paragraph and starts a new question, which the stop strings cut: ``finish_reason: "stop"``.

The frame's tokens are the request's input tokens (``usage.prompt_tokens``); the answer's
tokens and timings are the model's own. The legacy completions API gets no frame (it is
raw text continuation by definition), only the request's own ``stop``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

# Two worked pairs, on topics away from the demo's prompts (so they teach the shape, not the content).
EXAMPLES: tuple[tuple[str, str], ...] = (
    ("What does a thermostat do?",
     "A thermostat measures the room's temperature and switches the heating on or off to keep it near the setting."),
    ("Why is a compressed file smaller?",
     "Compression finds repeated patterns in the data and stores each one once, with short references to it."),
)  # fmt: skip
# A blank line ends the answer's paragraph; "Question:" is the next turn the model starts on its own.
FRAME_STOPS: tuple[str, ...] = ("\n\n", "Question:", "\nQuestion", "\nAnswer:")
MAX_REQUEST_STOPS = 4  # as the OpenAI API allows


@dataclass(frozen=True)
class Frame:
    """The text the model continues, the strings that end its answer, and whether to drop leading whitespace."""

    prompt: str
    stop: tuple[str, ...]
    strip_leading: bool = True


def text_of(content: Any) -> str:
    """A message's text: a string, or the text parts of a typed list (``[{"type": "text", "text": …}]``)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)]
        return "\n".join(parts)
    return str(content)


def qa_frame(messages: Sequence[dict[str, Any]], instructions: str | None = None, extra_stop: Iterable[str] = ()) -> Frame:
    """The Question/Answer transcript for a conversation (system and developer messages go on top, never into an answer)."""
    system = [instructions.strip()] if instructions and instructions.strip() else []
    system += [text_of(m.get("content")).strip() for m in messages if m.get("role") in ("system", "developer")]
    turns = [(m.get("role"), text_of(m.get("content")).strip()) for m in messages if m.get("role") not in ("system", "developer")]
    lines = ["\n".join(s for s in system if s) + "\n\n"] if any(system) else []
    lines += [f"Question: {q}\nAnswer: {a}\n\n" for q, a in EXAMPLES]
    pending_answer: str | None = None  # a last assistant message is continued, not closed
    for i, (role, text) in enumerate(turns):
        if role == "assistant":
            if i == len(turns) - 1:
                pending_answer = text
            else:
                lines.append(f"Answer: {text}\n\n")
        else:
            lines.append(f"Question: {text}\n")
    lines.append(f"Answer: {pending_answer}" if pending_answer else "Answer:")
    return Frame("".join(lines), _stops(FRAME_STOPS, extra_stop), strip_leading=not pending_answer)


def _stops(base: Iterable[str], extra: Iterable[str]) -> tuple[str, ...]:
    out: list[str] = []
    for s in (*base, *extra):
        if s and s not in out:
            out.append(s)
    return tuple(out)


def request_stops(extra: Any) -> tuple[str, ...]:
    """The request's own ``stop`` (a string or a list of up to 4 strings); anything else is ignored, as llama.cpp's server does."""
    if isinstance(extra, str):
        return (extra,) if extra else ()
    if isinstance(extra, list):
        return tuple(s for s in extra[:MAX_REQUEST_STOPS] if isinstance(s, str) and s)
    return ()


def local_frame(body: Any, api: str) -> Frame:
    """The frame for one request to ``local``: ``body`` is the server's pydantic request (chat, responses or completions)."""
    stop = request_stops((body.model_extra or {}).get("stop"))
    if api == "completions":
        return Frame(str(body.prompt), stop, strip_leading=False)
    if api == "responses":
        given = body.input
        messages = [{"role": "user", "content": given}] if isinstance(given, str) else [m.model_dump() for m in given]
        return qa_frame(messages, body.instructions, stop)
    return qa_frame([m.model_dump() for m in body.messages], None, stop)


class StopMatcher:
    """Cuts a stream of decoded pieces at the first stop string, holding back only what could be the start of one.

    ``feed`` returns the text that is safe to show now; ``visible`` counts the tokens that
    began before the cut (the answer's tokens; a stop string's own tokens are not output).
    With ``strip_leading``, whitespace before the answer's first character is dropped and
    a stop string only counts once the answer has begun (a frame's "Answer:" is followed by a space).
    """

    def __init__(self, stops: Sequence[str] = (), strip_leading: bool = False) -> None:
        self.stops = tuple(s for s in stops if s)
        self.strip_leading = strip_leading
        self.stopped = False
        self._buf = ""  # held back: could still become a stop string
        self._starts: list[int] = []  # each fed token's start offset in the answer's text (after the stripped lead)
        self._shown = 0  # characters of the answer handed out so far
        self._begun = not strip_leading

    def feed(self, piece: str, token: bool = True) -> str:
        """One token's decoded text in (``token=False``: the decoder's last bytes); the text to show now ("" while held back)."""
        if self.stopped:
            return ""
        if not self._begun:
            piece = piece.lstrip()
            self._begun = bool(piece)
        if token:
            self._starts.append(self._shown + len(self._buf))
        self._buf += piece
        cut = min((i for i in (self._buf.find(s) for s in self.stops) if i >= 0), default=-1)
        if cut >= 0:
            self.stopped = True
            return self._release(cut)
        keep = max((_overlap(self._buf, s) for s in self.stops), default=0)
        return self._release(len(self._buf) - keep)

    def flush(self) -> str:
        """The held-back text at the end of the generation (it was no stop string after all)."""
        return "" if self.stopped else self._release(len(self._buf))

    @property
    def visible(self) -> int:
        """Tokens of the answer: after a stop, those that began before it; else every token fed."""
        return sum(1 for s in self._starts if s < self._shown) if self.stopped else len(self._starts)

    def _release(self, n: int) -> str:
        out, self._buf = self._buf[:n], self._buf[n:]
        self._shown += len(out)
        if self.stopped:
            self._buf = ""
        return out


def _overlap(text: str, stop: str) -> int:
    """The length of the longest end of ``text`` that is a beginning of ``stop`` (shorter than ``stop``)."""
    for k in range(min(len(text), len(stop) - 1), 0, -1):
        if text.endswith(stop[:k]):
            return k
    return 0


def echoes(answer: str, *given: str) -> bool:
    """True when the answer repeats any of ``given`` (the question, the system prompt) verbatim, ignoring case and spacing."""
    norm = " ".join(answer.split()).casefold()
    return any(g.strip() and " ".join(g.split()).casefold() in norm for g in given)
