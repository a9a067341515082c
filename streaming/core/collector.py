"""StreamCollector: the callback API (``on_token``, ``on_complete``) on top of the client.
"""

from __future__ import annotations

from collections.abc import Callable

from streaming.core.client import Client
from streaming.core.config import Deployment
from streaming.core.record import StreamRecord
from streaming.core.request import LLMRequest


class StreamCollector:
    """Collects one streamed answer, calling ``on_token(delta)`` per delta and ``on_complete(record)`` at the end."""

    def __init__(
        self,
        on_token: Callable[[str], None] | None = None,
        on_complete: Callable[[StreamRecord], None] | None = None,
    ) -> None:
        self.on_token = on_token
        self.on_complete = on_complete
        self.tokens: list[str] = []
        self.record: StreamRecord | None = None

    @property
    def text(self) -> str:
        return "".join(self.tokens)

    @property
    def finish_reason(self) -> str | None:
        return self.record.finish_reason if self.record else None

    def collect(self, client: Client, deployment: Deployment | str, request: LLMRequest) -> StreamRecord:
        """Stream ``request``; the record is returned (and passed to ``on_complete``) even when it failed."""
        with client.stream(deployment, request) as stream:
            for delta in stream:
                self.tokens.append(delta)
                if self.on_token is not None:
                    self.on_token(delta)
        self.record = stream.record
        if self.on_complete is not None:
            self.on_complete(stream.record)
        return stream.record
