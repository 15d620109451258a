"""The one interface a connection writes to, and its adapter for any ASGI server.

`Socket` has no optional parts: every implementation offers all four
methods. signalhub's own protocol (`protocol.WebSocketProtocol`) is a
`Socket` and hands itself to the app in the ASGI scope (`SOCKET_EXTENSION`);
under another server, `AsgiSocket` adapts the ASGI `send` (its `write_frame`
always declines, its `abort` can only ask for a close).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Protocol, cast

#: The ASGI scope extension under which signalhub's protocol offers itself as a `Socket`.
SOCKET_EXTENSION = "signalhub.socket"

AsgiSend = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class Socket(Protocol):
    """An open WebSocket, as a connection sees it.

    Guarantees: frames leave in the order they are handed over, whichever
    method hands them over; `write_frame` and `abort` never block.
    """

    def write_frame(self, frame: bytes) -> bool:
        """Write one serialised text frame (`frames.text_frame`) now and return True,
        or write nothing and return False (the transport is paused, a close is under
        way, or an extension must transform frames): then use `send_text`."""
        ...

    async def send_text(self, text: str) -> None:
        """Send one text message; waits while the peer reads slowly."""
        ...

    async def close(self, code: int, reason: str) -> None:
        """Start the closing handshake with `code` and `reason`."""
        ...

    def abort(self) -> None:
        """Drop the TCP connection now, without a closing handshake (a peer that
        stopped reading cannot even be sent a close frame)."""
        ...


class AsgiSocket:
    """`Socket` over a plain ASGI `send` (a server other than signalhub's protocol)."""

    __slots__ = ("_send",)

    def __init__(self, send: AsgiSend) -> None:
        self._send = send

    def write_frame(self, frame: bytes) -> bool:
        return False  # no access to the transport: every frame goes through `send_text`

    async def send_text(self, text: str) -> None:
        await self._send({"type": "websocket.send", "text": text})

    async def close(self, code: int, reason: str) -> None:
        await self._send({"type": "websocket.close", "code": code, "reason": reason})

    def abort(self) -> None:
        pass  # ASGI has no way to drop a connection; the server ends it when the app returns


def socket_for(scope: MutableMapping[str, Any], send: AsgiSend) -> Socket:
    """The socket of an accepted WebSocket: signalhub's protocol itself when it serves
    the connection, else an `AsgiSocket` over `send`."""
    extensions = scope.get("extensions") or {}
    own = extensions.get(SOCKET_EXTENSION)
    return cast(Socket, own) if own is not None else AsgiSocket(send)
