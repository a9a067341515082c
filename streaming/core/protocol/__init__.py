"""Stream parsers, one module per API, and the ``RecordBuilder`` that times what they find and decides a record's final state."""

from streaming.core.protocol.builder import RecordBuilder, error_message, kept_headers

__all__ = ["RecordBuilder", "error_message", "kept_headers"]
