"""uvicorn's websockets-sansio protocol, made lean for many idle sockets and cheap fan-out.

`signalhub api` serves WebSockets with `SignalhubWebSocketProtocol` (uvicorn's
`ws=` accepts a protocol class). All of RFC 6455 (handshake, parsing, pings,
closing) stays with uvicorn's `WebSocketsSansIOProtocol` and the websockets
sans-I/O library; this subclass changes three things (docs/performance.md):

- **Memory.** uvicorn keeps an `asyncio.Queue` (four deques) for received
  messages and an `asyncio.Event` (one more deque) for write flow control on
  every socket, and the parsed handshake request and response for its whole
  life. Here both are small objects that allocate only while something waits
  or is queued, and the handshake objects are dropped once the socket is open.
- **Encode once.** `write_frame(frame)` writes an already serialised text
  frame straight to the transport when the socket can take it without waiting.
  The hub serialises a signal's frame once (`sendqueue.Frame.ws_bytes`) and
  every socket of the user gets the same bytes: no per-socket message dict,
  coroutine, frame object or join. It is offered to the app as the ASGI scope
  extension `WRITE_FRAME` and refuses (returns False) whenever the normal path
  must be taken: the transport is paused (slow reader), a close is under way, or
  an extension such as per-message deflate would have to transform the frame.
- **Stalled peers do not linger.** When the app has finished and the
  transport still cannot flush (the peer stopped reading), the transport is
  aborted after `close_timeout` instead of waiting for a keepalive timeout.

Guarantees: frames leave in the order they are written, by either path (both
write synchronously to the same transport); `write_frame` never blocks.
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

#: The ASGI scope extension carrying `write_frame` (absent under any other server).
WRITE_FRAME = "signalhub.websocket.write_frame"


class _Gate:
    """`asyncio.Event` for write flow control, minus the per-socket deque: waiters'
    futures exist only while the transport is paused and somebody waits."""

    __slots__ = ("_open", "_waiters")

    def __init__(self) -> None:
        self._open = True
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._open

    def set(self) -> None:
        self._open = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._open = False

    async def wait(self) -> None:
        while not self._open:
            waiter = asyncio.get_running_loop().create_future()
            if self._waiters is None:
                self._waiters = []
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                if self._waiters is not None and waiter in self._waiters:
                    self._waiters.remove(waiter)


class _Inbox:
    """The received-message queue (`asyncio.Queue`'s subset uvicorn uses), with no
    deque while empty: an idle socket holds one pending future and nothing else."""

    __slots__ = ("_items", "_waiters")

    def __init__(self) -> None:
        self._items: collections.deque[Any] | None = None
        self._waiters: list[asyncio.Future[None]] | None = None

    def put_nowait(self, item: Any) -> None:
        if self._items is None:
            self._items = collections.deque()
        self._items.append(item)
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def empty(self) -> bool:
        return not self._items

    async def get(self) -> Any:
        while not self._items:
            waiter = asyncio.get_running_loop().create_future()
            if self._waiters is None:
                self._waiters = []
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                if self._waiters is not None and waiter in self._waiters:
                    self._waiters.remove(waiter)
        items = self._items
        item = items.popleft()
        if not items:
            self._items = None
        return item


class SignalhubWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol with lean idle state and a
    pre-encoded frame fast path (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = _Inbox()  # type: ignore[assignment]
        self.writable = _Gate()  # type: ignore[assignment]
        self.abort_timer: asyncio.TimerHandle | None = None

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        if self.response.status_code == 101:
            self.scope["extensions"][WRITE_FRAME] = self.write_frame

    async def send(self, message: Any) -> None:
        await super().send(message)
        if self.handshake_complete and getattr(self, "request", None) is not None:
            # The app has answered the handshake: the parsed request and the
            # response are no longer read (the scope keeps what the app uses).
            self.request = self.response = None  # type: ignore[assignment]

    def write_frame(self, frame: bytes) -> bool:
        """Write one serialised, unmasked frame now, or return False (nothing written)
        when it must go through the ASGI send instead."""
        if (
            self.close_sent
            or self.disconnected
            or not self.writable._open  # type: ignore[attr-defined]
            or self.conn.extensions
            or self.conn.state is not State.OPEN
            or self.transport.is_closing()
        ):
            return False
        self.transport.write(frame)
        return True

    async def run_asgi(self) -> None:
        await super().run_asgi()
        if not self.disconnected:
            # uvicorn has closed (or will close) the transport; if the peer stopped
            # reading, close() waits for a flush that never comes: abort instead.
            delay = self.close_timeout + (0 if self.close_timer is None else self.close_timeout)
            self.abort_timer = self.loop.call_later(delay, self._abort_if_open)

    def _abort_if_open(self) -> None:
        self.abort_timer = None
        if not self.disconnected:
            self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.abort_timer is not None:
            self.abort_timer.cancel()
            self.abort_timer = None
        super().connection_lost(exc)
