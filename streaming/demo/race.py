"""The race view: the same prompt streamed and not streamed at once, and how much longer the non-streaming user waits.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from streaming.core.client import Client
from streaming.core.config import Deployment
from streaming.core.record import StreamRecord
from streaming.core.request import LLMRequest
from streaming.demo.reader import ThreadedReader


@dataclass(frozen=True)
class RaceResult:
    """The two perceived waits of one race: first token (streaming) vs whole answer (non-streaming)."""

    stream_wait_s: float | None
    plain_wait_s: float | None
    stream_e2e_s: float | None

    @property
    def ratio(self) -> float | None:
        """How many times longer the non-streaming user waited before reading anything."""
        if not self.stream_wait_s or self.plain_wait_s is None:
            return None
        return self.plain_wait_s / self.stream_wait_s

    @classmethod
    def of(cls, streamed: StreamRecord, plain: StreamRecord) -> RaceResult:
        return cls(
            stream_wait_s=streamed.perceived_wait_s if streamed.ok else None,
            plain_wait_s=plain.perceived_wait_s if plain.ok else None,
            stream_e2e_s=streamed.e2e_s if streamed.ok else None,
        )


class Race:
    """The same request sent streaming and non-streaming to one deployment, both started together."""

    def __init__(self, client: Client, dep: Deployment | str, req: LLMRequest) -> None:
        self.streamed = ThreadedReader(client.stream(dep, replace(req, stream=True)), client.clock)
        self.plain = ThreadedReader(client.stream(dep, replace(req, stream=False)), client.clock)

    def start(self) -> Race:
        self.plain.start()
        self.streamed.start()
        return self

    def cancel(self) -> None:
        self.streamed.cancel()
        self.plain.cancel()

    def join(self, timeout: float | None = None) -> RaceResult:
        return RaceResult.of(self.streamed.join(timeout), self.plain.join(timeout))

    def __enter__(self) -> Race:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cancel()
        self.join(5.0)
