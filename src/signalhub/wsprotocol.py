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
- **Stalled peers do not linger.** A peer that stopped reading cannot be
  sent a close frame, and uvicorn's `transport.close()` waits for a flush that
  never comes. The app can `abort()` such a socket (ASGI scope extension
  `ABORT`; `Connection` does when its close is stuck), and when the app has
  finished and the transport still has not flushed after `close_timeout`, the
  transport is aborted.

Guarantees: frames leave in the order they are written, by either path (both
write synchronously to the same transport); `write_frame` never blocks.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import logging
import weakref
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.protocol import State
from websockets.server import ServerProtocol

#: The ASGI scope extension carrying `write_frame` (absent under any other server).
WRITE_FRAME = "signalhub.websocket.write_frame"
#: The ASGI scope extension carrying `abort`: drop the TCP connection at once, no closing handshake.
ABORT = "signalhub.websocket.abort"


class _Waiters:
    """Futures of the coroutines waiting for a wake-up, in a list that exists
    only while somebody waits (what `asyncio.Event` and `asyncio.Queue` keep a
    deque for on every socket)."""

    __slots__ = ("_waiters",)

    def __init__(self) -> None:
        self._waiters: list[asyncio.Future[None]] | None = None

    def _wake_all(self) -> None:
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    async def _wait_for_wake(self) -> None:
        waiter = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            if self._waiters is not None and waiter in self._waiters:
                self._waiters.remove(waiter)


class _Gate(_Waiters):
    """`asyncio.Event` for write flow control: waiters' futures exist only while
    the transport is paused and somebody waits."""

    __slots__ = ("_open",)

    def __init__(self) -> None:
        super().__init__()
        self._open = True

    def is_set(self) -> bool:
        return self._open

    def set(self) -> None:
        self._open = True
        self._wake_all()

    def clear(self) -> None:
        self._open = False

    async def wait(self) -> None:
        while not self._open:
            await self._wait_for_wake()


class _Inbox(_Waiters):
    """The received-message queue (`asyncio.Queue`'s subset uvicorn uses), with no
    deque while empty: an idle socket holds one pending future and nothing else."""

    __slots__ = ("_items",)

    def __init__(self) -> None:
        super().__init__()
        self._items: collections.deque[Any] | None = None

    def put_nowait(self, item: Any) -> None:
        if self._items is None:
            self._items = collections.deque()
        self._items.append(item)
        self._wake_all()

    def empty(self) -> bool:
        return not self._items

    async def get(self) -> Any:
        while not self._items:
            await self._wait_for_wake()
        items = self._items
        item = items.popleft()
        if not items:
            self._items = None
        return item


#: uvicorn sets these in `__init__` from the server's config and state: the same
#: values for every socket of one server, so they live in one `_ServerShared`.
_SHARED = (
    "config", "app", "loop", "logger", "root_path", "asgi_version", "app_state",
    "connections", "tasks", "default_headers", "ping_interval", "ping_timeout",
)

#: Callbacks of the keepalive timers read no context variable: no copy per timer.
_TIMER_CONTEXT = contextvars.Context()


class _ServerShared:
    """What every socket of one uvicorn server shares (see `_SHARED`)."""

    __slots__ = _SHARED + ("__weakref__",)

    def __init__(self, config: Any, server_state: Any, app_state: dict, loop: Any) -> None:
        self.config = config
        self.app = config.loaded_app
        self.loop = loop
        self.logger = logging.getLogger("uvicorn.error")
        self.root_path = config.root_path
        self.asgi_version = config.asgi_version
        self.app_state = app_state
        self.connections = server_state.connections
        self.tasks = server_state.tasks
        self.default_headers = server_state.default_headers
        self.ping_interval = config.ws_ping_interval
        self.ping_timeout = config.ws_ping_timeout


_shared_by_server: weakref.WeakKeyDictionary[Any, _ServerShared] = weakref.WeakKeyDictionary()


class SignalhubWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol with lean idle state and a
    pre-encoded frame fast path (see the module docstring).

    Every method is uvicorn's except those below. `__init__` sets the same
    attributes as uvicorn's, but server-wide ones are read from one shared
    object and the initial values of per-socket flags are class attributes
    until first assigned: an instance dict with uvicorn's ~40 keys is a
    per-socket hash table (~1.5 KB); with ~20 it shares its keys
    (`tests/test_wsprotocol.py` checks that nothing uvicorn sets is missing).
    """

    # Initial per-socket state (uvicorn's `__init__` values), shadowed on first assignment.
    handshake_initiated = False
    handshake_complete = False
    close_sent = False
    disconnected = False
    close_timer: asyncio.TimerHandle | None = None
    close_timeout = 10.0
    initial_response = None
    read_paused = False
    ping_timer: asyncio.TimerHandle | None = None
    pong_timer: asyncio.TimerHandle | None = None
    pending_ping_payload: bytes | None = None
    ping_sent_at = 0.0
    last_ping_rtt = 0.0
    curr_msg_data_type = "bytes"
    abort_timer: asyncio.TimerHandle | None = None
    request = None
    response = None

    def __init__(self, config: Any, server_state: Any, app_state: dict[str, Any], _loop: Any = None) -> None:
        if not config.loaded:
            config.load()  # pragma: no cover
        shared = _shared_by_server.get(server_state)
        if shared is None or shared.config is not config or shared.app_state is not app_state:
            shared = _shared_by_server[server_state] = _ServerShared(
                config, server_state, app_state, _loop or asyncio.get_event_loop()
            )
        self._shared = shared
        self.transport = None  # type: ignore[assignment]
        self.server = None
        self.client = None
        self.scheme = None  # type: ignore[assignment]
        self.queue = _Inbox()  # type: ignore[assignment]
        extensions = []
        if config.ws_per_message_deflate:
            extensions = [
                ServerPerMessageDeflateFactory(
                    server_max_window_bits=12, client_max_window_bits=12, compress_settings={"memLevel": 5}
                )
            ]
        self.conn = ServerProtocol(extensions=extensions, max_size=config.ws_max_size, logger=shared.logger)
        self.writable = _Gate()  # type: ignore[assignment]
        self.frames = []

    def __getattr__(self, name: str) -> Any:
        # Only reached when `name` is neither a per-socket attribute nor a class one.
        if name in _SHARED:
            return getattr(self.__dict__["_shared"], name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        if self.response.status_code == 101:
            self.scope["extensions"][WRITE_FRAME] = self.write_frame
            self.scope["extensions"][ABORT] = self.abort

    async def send(self, message: Any) -> None:
        await super().send(message)
        if self.handshake_complete and self.request is not None:
            # The app has answered the handshake: drop the parsed request and the
            # response. The request's headers are cleared as well, because the
            # websockets parser keeps the request object for the socket's life;
            # the app has its own copy in the scope.
            self.request.headers.clear()
            self.request = self.response = None

    def schedule_ping(self) -> None:
        delay = max(0.0, self.ping_interval - self.last_ping_rtt)
        self.ping_timer = self.loop.call_later(delay, self.send_keepalive_ping, context=_TIMER_CONTEXT)

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

    def abort(self) -> None:
        """Drop the connection now (a peer that cannot even be sent a close frame).
        The app then receives `websocket.disconnect` and a send waiting for the
        paused transport raises, as after any lost connection."""
        if not self.disconnected:
            self.transport.abort()

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
