"""Replays of recorded sessions: a recorded run's answers, with the chunk timings they streamed at.

A ``provider = "replay"`` deployment names a run (``run = "RUN_ID"``) or a deployment
(``deployment = "NAME"``: its latest recorded run) of the results database. The store reads
it into a ``Recording`` (``store.recordings``); the built-in server plays one ``RecordedAnswer``
per request, each chunk at its recorded time from the request's arrival, so the TTFT and every
gap are as they were. ``Recording.pick`` chooses the answer: the recorded prompt closest to
the one asked, else the next answer in turn.
"""

from __future__ import annotations

import itertools
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streaming.core.config import Deployment, parse_deployment

PROVIDER_WORDS = {"azure": "Azure", "openai": "OpenAI", "compatible": "OpenAI-compatible", "simulated": "simulated", "local": "local model"}
CLOSE_ENOUGH = 0.5  # word-set overlap (Jaccard) from which a recorded prompt counts as "the same question"
_WORD = re.compile(r"[a-z0-9]+")


def replay_label(source: str, provider: str, recorded_at: str) -> str:
    """``replay of gpt-4o (Azure, recorded 2026-11-20)``: what every view calls a replay."""
    return f"replay of {source} ({PROVIDER_WORDS.get(provider, provider)}, recorded {recorded_at[:10]})"


def replay_header(dep: Deployment) -> dict[str, Any]:
    """What the ``x-replay`` request header says of a replay deployment (its database as an absolute path, when it names one)."""
    return {"name": dep.name, "run": dep.replay_run, "deployment": dep.replay_of,
            "db": str(Path(dep.replay_db).resolve()) if dep.replay_db else None}  # fmt: skip


def replay_from_header(data: Any) -> Deployment:
    """The replay deployment an ``x-replay`` header describes, or a ConfigError naming the field."""
    if not isinstance(data, dict):
        from streaming.errors import ConfigError

        raise ConfigError("header 'x-replay' must be a JSON object")
    entry = {k: v for k, v in data.items() if v is not None}
    return parse_deployment({**entry, "provider": "replay"}, "header 'x-replay'")


def _words(text: str) -> frozenset[str]:
    return frozenset(_WORD.findall(text.lower()))


def similarity(a: str, b: str) -> float:
    """Word-set overlap of two prompts, 0..1 (1: the same words)."""
    wa, wb = _words(a), _words(b)
    if not wa and not wb:
        return 1.0 if a.strip() == b.strip() else 0.0
    return len(wa & wb) / len(wa | wb)


@dataclass(frozen=True)
class RecordedAnswer:
    """One recorded answer: its visible text in the pieces it arrived in, each at its time from the request's send."""

    pieces: tuple[str, ...]
    times_s: tuple[float, ...]  # chunk i arrived times_s[i] after the request was sent (the recording's chunk_times_s)
    prompt: str | None = None  # the question it answered (None: not recorded; such answers are only played in turn)
    finish_reason: str | None = "stop"
    output_tokens: int | None = None
    input_tokens: int | None = None
    t_first_reasoning_s: float | None = None
    reasoning_text: str = ""
    reasoning_tokens: int | None = None
    request_key: int | None = None  # the recording's row id (tests and the closing check compare against it)

    def __post_init__(self) -> None:
        if len(self.pieces) != len(self.times_s):
            raise ValueError(f"a recorded answer needs one time per piece ({len(self.pieces)} pieces, {len(self.times_s)} times)")

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    @staticmethod
    def split(text: str, chars: list[int], times: list[float]) -> tuple[tuple[str, ...], tuple[float, ...]]:
        """The text cut into the recorded chunk sizes; when they do not add up to it, into as many equal pieces."""
        n = len(times)
        if n == 0:
            return (), ()
        if sum(chars) != len(text) or len(chars) != n:
            step = len(text) / n
            cuts = [round(step * i) for i in range(n + 1)]
        else:
            cuts = [0, *itertools.accumulate(chars)]
        return tuple(text[cuts[i] : cuts[i + 1]] for i in range(n)), tuple(float(t) for t in times)


@dataclass
class Recording:
    """A replay's answers and where they came from; ``pick`` is safe to call from many requests at once."""

    source: str  # the recorded deployment's name
    provider: str  # the recorded deployment's provider
    model: str
    run_id: str
    recorded_at: str  # ISO date-time of the recorded run
    answers: tuple[RecordedAnswer, ...]
    _turn: itertools.count = field(default_factory=itertools.count, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _seen: dict[int, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not self.answers:
            raise ValueError("a recording needs at least one answer")

    @property
    def label(self) -> str:
        return replay_label(self.source, self.provider, self.recorded_at)

    def pick(self, prompt: str) -> tuple[RecordedAnswer, bool]:
        """The answer to play for ``prompt`` and whether its recorded prompt was close: the closest recorded prompt
        (repeats of it in turn), else the next answer of the whole recording in turn."""
        scored = [(similarity(prompt, a.prompt), i) for i, a in enumerate(self.answers) if a.prompt is not None]
        best = max((s for s, _ in scored), default=0.0)
        with self._lock:
            if best >= CLOSE_ENOUGH:
                same = [i for s, i in scored if s == best]
                key = same[0]
                k = self._seen.get(key, 0)
                self._seen[key] = k + 1
                return self.answers[same[k % len(same)]], True
            return self.answers[next(self._turn) % len(self.answers)], False
