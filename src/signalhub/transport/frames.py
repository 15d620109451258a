"""Server-to-client WebSocket frame bytes (RFC 6455 §5.2). Pure: no I/O.

Guarantees: `text_frame(payload)` is one complete, final (FIN), unmasked text
frame carrying exactly `payload`, the bytes a server writes to a socket that
negotiated no extension. It is built once per signal and shared by every socket.
"""

from __future__ import annotations

import struct

_TEXT_FIN = 0x81  # FIN + opcode 1 (text)

# Built once: this runs for every signal a socket is sent (with one socket per
# user, for every delivery), so the header is one table read or one pack call.
_SHORT_HEADERS = tuple(bytes((_TEXT_FIN, n)) for n in range(126))
_header16 = struct.Struct("!BBH").pack
_header64 = struct.Struct("!BBQ").pack


def text_frame(payload: bytes) -> bytes:
    """The whole frame: a 2-, 4- or 10-byte header, then `payload` (already UTF-8)."""
    n = len(payload)
    if n < 126:
        return _SHORT_HEADERS[n] + payload
    if n < 65536:
        return _header16(_TEXT_FIN, 126, n) + payload
    return _header64(_TEXT_FIN, 127, n) + payload
