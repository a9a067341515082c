"""Benchmark prompts: built-in short / medium / long / conversations sets, or a file (one per line, or JSONL).

A JSONL line may be a conversation: ``"messages"`` (chat messages) and an optional ``"turns"``. Without
``"turns"`` the messages are sent as one request. With ``"turns": N`` (or ``true``: every user message)
the first N user messages are replayed one turn at a time, each with the model's real answers to the
earlier turns in place of any recorded assistant messages (``bench/conversation``).
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
    messages: tuple[dict[str, str], ...] | None = None  # a conversation: chat messages (see the module doc)
    turns: int = 0  # replay this many user turns one at a time with real answers fed back (0: send the messages as one request)


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


_CONVERSATIONS = (
    ("You are a concise assistant.", ("What is a message queue?", "Give one example of when to use it.", "And one case where it is the wrong tool?")),
    ("You are a helpful tutor.", ("Explain latency in one sentence.", "How is that different from throughput?", "Which one matters more for a chat app?")),
    ("You answer briefly.", ("What does HTTP 429 mean?", "What should a client do when it gets one?", "How long should it wait?", "Summarise our talk.")),
    ("You are a patient teacher.", ("What is a token in a language model?", "Why do answers stream token by token?", "What is time to first token?")),
)


def builtin(size: str) -> list[Prompt]:
    """The built-in prompts of one size ("short", "medium", "long"), "mixed" (those three), or "conversations" (multi-turn)."""
    if size == "conversations":
        return [Prompt(f"conversation-{i + 1}", users[0], "conversation",
                       ({"role": "system", "content": system}, *({"role": "user", "content": u} for u in users)), len(users))
                for i, (system, users) in enumerate(_CONVERSATIONS)]  # fmt: skip
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
    raise ConfigError(f"prompt set must be one of {[*SIZES, 'mixed', 'conversations']}, got {size!r}")


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
    if isinstance(value, dict) and "messages" in value:
        return _conversation(value, where, default_id)
    if isinstance(value, dict):
        text = value.get("text", value.get("prompt"))
        if not isinstance(text, str) or not text.strip():
            raise ConfigError(f"{where}: needs a non-empty \"text\" (or \"prompt\") field")
        size = str(value.get("size", "custom"))
        return Prompt(str(value.get("id", default_id)), text, size)
    raise ConfigError(f"{where}: a prompt must be a string or a table with \"text\", got {type(value).__name__}")


def _conversation(value: dict, where: str, default_id: str) -> Prompt:
    """A conversation line: {"messages": [{"role", "content"}, …], "turns": N | true, "id", "size"}."""
    msgs = value["messages"]
    if not isinstance(msgs, list) or not msgs:
        raise ConfigError(f"{where}: field 'messages' must be a non-empty list of {{\"role\", \"content\"}} objects")
    for j, m in enumerate(msgs):
        if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant") or not isinstance(m.get("content"), str):
            raise ConfigError(f"{where}: field 'messages[{j}]' must be {{\"role\": \"system\"|\"user\"|\"assistant\", \"content\": \"…\"}}")
    users = [m["content"] for m in msgs if m["role"] == "user"]
    if not users:
        raise ConfigError(f"{where}: field 'messages' has no \"user\" message to send")
    turns = value.get("turns", 0)
    if turns is True:
        turns = len(users)
    if turns is False or turns is None:
        turns = 0
    if not isinstance(turns, int) or not 0 <= turns <= len(users):
        raise ConfigError(f"{where}: field 'turns' must be true or a whole number from 1 to {len(users)} (the user messages), got {turns!r}")
    if not turns and msgs[-1]["role"] != "user":
        raise ConfigError(f"{where}: the last message must be from \"user\" (or give \"turns\" to replay the conversation)")
    return Prompt(str(value.get("id", default_id)), users[0], str(value.get("size", "conversation")),
                  tuple({"role": m["role"], "content": m["content"]} for m in msgs), turns)  # fmt: skip
