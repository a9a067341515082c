"""Benchmark prompts: built-in short / medium / long sets, or a file (one per line, or JSONL).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import orjson

from streaming.errors import ConfigError

SIZES = ("short", "medium", "long")


@dataclass(frozen=True)
class Prompt:
    """One benchmark prompt: a stable id (for pairing and reports), its text and its size class."""

    id: str
    text: str
    size: str = "custom"


_SHORT = (
    "What is streaming in the context of large language models?",
    "Name three uses of a message queue.",
    "Explain latency in one sentence.",
    "What does an HTTP 429 status code mean?",
    "Give a short definition of cloud computing.",
    "Why do people prefer fast first responses?",
    "What is a token in a language model?",
    "Summarise what a load balancer does.",
)


_MEDIUM_TOPICS = (
    "how a content delivery network reduces page load times",
    "the difference between throughput and latency in web services",
    "why percentiles are more useful than averages for response times",
    "how server-sent events differ from websockets",
    "what happens between pressing enter in a browser and seeing a page",
    "how rate limiting protects a shared API",
)


_LONG_BASE = (
    "You are reviewing the design of a chat assistant that streams its answers token by token. "
    "Users complain that some answers feel slow even though the total time is similar to other answers. "
    "The team measured time to first token, inter-token latency and end-to-end latency for one week. "
    "The median time to first token was 300 milliseconds, but the 99th percentile was four seconds. "
    "Some requests were retried after rate-limit responses, and the retries were counted in the latency. "
    "Other requests used a content filter that buffered text into bursts, so the gaps between chunks "
    "were uneven. The client ran on a laptop over a hotel network, and the server was in another region. "
)


_LONG_QUESTIONS = (
    "Explain which of these observations matter most for how fast the assistant feels, and why.",
    "List the measurement mistakes in this study and how to fix each of them.",
    "Propose an experiment that separates network latency from model latency.",
    "Write a short report for a non-technical manager that explains the findings.",
)


def builtin(size: str) -> list[Prompt]:
    """The built-in prompts of one size ("short", "medium", "long") or "mixed" (all of them)."""
    if size == "mixed":
        return [p for s in SIZES for p in builtin(s)]
    if size == "short":
        return [Prompt(f"short-{i + 1}", t, "short") for i, t in enumerate(_SHORT)]
    if size == "medium":
        return [
            Prompt(f"medium-{i + 1}", f"In about three paragraphs, explain {topic}. Use one concrete example, and end with a one-line summary.", "medium")
            for i, topic in enumerate(_MEDIUM_TOPICS)
        ]
    if size == "long":
        return [Prompt(f"long-{i + 1}", (_LONG_BASE * 4) + "\n\n" + q, "long") for i, q in enumerate(_LONG_QUESTIONS)]
    raise ConfigError(f"prompt set must be one of {[*SIZES, 'mixed']}, got {size!r}")


def from_file(path: str | Path) -> list[Prompt]:
    """Prompts from a file: JSONL (objects with "prompt" or "text", optional "id" and "size"), else one per line."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"prompts file {p}: not found")
    lines = [ln for ln in p.read_text(encoding="utf-8").splitlines() if ln.strip()]
    if not lines:
        raise ConfigError(f"prompts file {p}: no prompts in it")
    jsonl = p.suffix.lower() in (".jsonl", ".ndjson") or lines[0].lstrip().startswith("{")
    out: list[Prompt] = []
    for i, ln in enumerate(lines):
        if not jsonl:
            out.append(Prompt(f"{p.stem}-{i + 1}", ln.strip()))
            continue
        try:
            obj = orjson.loads(ln)
        except orjson.JSONDecodeError:
            raise ConfigError(f"prompts file {p}: line {i + 1} is not valid JSON") from None
        out.append(from_value(obj, f"prompts file {p}: line {i + 1}", f"{p.stem}-{i + 1}"))
    return out


def from_value(value: object, where: str, default_id: str) -> Prompt:
    """A prompt from a string or a table {id, text|prompt, size}."""
    if isinstance(value, str):
        if not value.strip():
            raise ConfigError(f"{where}: the prompt is empty")
        return Prompt(default_id, value)
    if isinstance(value, dict):
        text = value.get("text", value.get("prompt"))
        if not isinstance(text, str) or not text.strip():
            raise ConfigError(f"{where}: needs a non-empty \"text\" (or \"prompt\") field")
        size = str(value.get("size", "custom"))
        return Prompt(str(value.get("id", default_id)), text, size)
    raise ConfigError(f"{where}: a prompt must be a string or a table with \"text\", got {type(value).__name__}")
