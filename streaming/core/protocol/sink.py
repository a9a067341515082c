"""What a stream parser may touch of the ``RecordBuilder``: the record, the text so far, and the ``on_*`` calls.

The parsers (``chat``, ``responses``) are typed against this, not the builder, so the builder can import them
without the parsers importing it back.
"""

from __future__ import annotations

from typing import Any, Protocol

from streaming.core.record import StreamRecord


class RecordSink(Protocol):
    """The builder's side the parsers see; ``RecordBuilder`` is one."""

    rec: StreamRecord
    parts: list[str]
    reasoning_parts: list[str]
    usage: dict[str, Any] | None
    done: bool

    def on_content(self, t: float, text: str) -> None: ...

    def on_reasoning(self, t: float, text: str) -> None: ...

    def on_tool_call(self, t: float, new_call: bool) -> None: ...

    def on_stream_error(self, err: Any) -> None: ...
