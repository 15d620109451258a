"""Server-to-client WebSocket frame bytes (RFC 6455 §5.2). Pure: no I/O.

Guarantees: `text_frame(payload)` is one complete, final (FIN), unmasked text
frame carrying exactly `payload`, the bytes a server writes to a socket that
negotiated no extension. It is built once per signal and shared by every socket.
"""

from __future__ import annotations

_TEXT_FIN = 0x81  # FIN + opcode 1 (text)


def text_frame(payload: bytes) -> bytes:
    """The whole frame: a 2-, 4- or 10-byte header, then `payload` (already UTF-8)."""
    n = len(payload)
    if n < 126:
        return bytes((_TEXT_FIN, n)) + payload
    if n < 65536:
        return bytes((_TEXT_FIN, 126)) + n.to_bytes(2, "big") + payload
    return bytes((_TEXT_FIN, 127)) + n.to_bytes(8, "big") + payload
