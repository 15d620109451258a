"""signalhub's WebSocket server protocol: RFC 6455 by the websockets library's
public sans-I/O `ServerProtocol`, driven by an `asyncio.Protocol` of our own,
serving any ASGI 3 app.

uvicorn runs it through its `ws=` setting (a protocol class): uvicorn's HTTP
protocol reads the upgrade request, then constructs this class with
`config`, `server_state` and `app_state`, calls `connection_made` and feeds
it the request bytes. Only uvicorn's public `Config` attributes and the
server state's `connections`, `tasks` and `default_headers` are read; no
uvicorn module is imported.

What it adds over a plain ASGI WebSocket server (docs/performance.md):

- **It is a `Socket`** (`socket.py`), offered to the app in the scope under
  `SOCKET_EXTENSION`: `write_frame` writes a pre-encoded frame straight to the
  transport (a few attribute reads and `transport.write`, no message dict, no
  coroutine), and `abort` drops a peer that stopped reading.
- **Lean idle state**: `__slots__`, server-wide values in one shared object,
  one timer at a time (keepalive ping, pong deadline or closing deadline), no
  queue or event objects until something is received or waited for, and the
  parsed handshake headers dropped once the app has its scope.
- **A close that cannot finish is cut short**: the closing handshake has
  `close_timeout` seconds, then the TCP connection is aborted (a peer that
  stopped reading never lets a graceful close flush).

Guarantees: frames leave in the order they are written, whichever method
writes them (all write synchronously to one transport); `write_frame` and
`abort` never block; messages reach the app in the order received, then one
`websocket.disconnect`; invalid UTF-8 closes with 1007, oversized messages
with 1009, protocol errors with 1002, each logged at most once per
`ClientErrorLog` interval and without a traceback.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import logging
import random
from collections.abc import Awaitable, MutableMapping
from typing import Any, cast

from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.server import ServerProtocol

from .frames import text_frame
from .handshake import accept_response, asgi_scope, http_response
from .server import CLIENT_ERRORS, SocketClosed, server_for

log = logging.getLogger(__name__)
#: One line per handshake outcome, like uvicorn's HTTP access log (query strings are
#: redacted by `logs.RedactTokens` when the server's log config is used).
access_log = logging.getLogger("signalhub.transport.access")

_CONNECTING, _OPEN, _CLOSING, _CLOSED = range(4)

#: First item of a fragmented message's parts: what kind of message it is.
_TEXT, _BINARY = b"text", b"binary"

#: The library logs every opened and rejected connection at INFO: one line per socket is too
#: many for a server of thousands; its warnings still show.
_library_log = logging.getLogger(__name__ + ".websockets")
_library_log.setLevel(logging.WARNING)

#: Timer callbacks read no context variable: no context copy per socket.
_NO_CONTEXT = contextvars.Context()


class WebSocketProtocol(asyncio.Protocol):
    """One WebSocket connection (see the module docstring); a `Socket` once open."""

    #: Seconds the closing handshake may take before the TCP connection is aborted.
    close_timeout = 10.0

    __slots__ = ("_server", "transport", "conn", "scope", "_state", "_fast", "_writable", "_items",
                 "_waiters", "_fragments", "_timer", "_ping", "_response", "_read_paused", "_fail_when_open",
                 "__weakref__")

    def __init__(self, config: Any, server_state: Any, app_state: dict[str, Any], **_: Any) -> None:
        server = self._server = server_for(config, server_state, app_state)
        extensions = [ServerPerMessageDeflateFactory(
            server_max_window_bits=12, client_max_window_bits=12, compress_settings={"memLevel": 5}
        )] if server.deflate else None
        self.conn = ServerProtocol(extensions=extensions, max_size=server.max_size, logger=_library_log)
        self.transport: asyncio.Transport | None = None
        self.scope: dict[str, Any] | None = None
        self._state = _CONNECTING
        self._fast = False  # open, no extension, transport not paused: write_frame may write
        self._writable = True
        self._items: collections.deque[dict[str, Any]] | None = None  # received, not yet read by the app
        self._waiters: list[asyncio.Future[None]] | None = None  # app coroutines waiting to receive or write
        self._fragments: list[bytes] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._ping: bytes | None = None  # payload of the keepalive ping in flight
        self._response: Response | tuple[int, list[tuple[bytes, bytes]], bytes] | None = None
        self._read_paused = False
        self._fail_when_open: tuple[int, str] | None = None  # a client error seen before the app accepted

    # -- asyncio.Protocol ------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass, same interface
        self._server.state.connections.add(self)

    def data_received(self, data: bytes) -> None:
        conn = self.conn
        conn.receive_data(data)
        for event in conn.events_received():
            if isinstance(event, Frame):
                self._on_frame(event)
            elif isinstance(event, Request):
                self._on_request(event)
        if conn.parser_exc is not None and self._state == _OPEN:
            # The library has queued its close frame (1002, 1009, ...): say why, once.
            close = conn.close_sent
            self._closing(close.code if close else 1006, close.reason if close else "")
            CLIENT_ERRORS.warning(self._server.loop, "WebSocket closed after a client error: %s", conn.parser_exc)
        self._flush()

    def eof_received(self) -> None:
        self.conn.receive_eof()
        self._flush()

    def pause_writing(self) -> None:
        self._writable = self._fast = False

    def resume_writing(self) -> None:
        self._writable = True
        self._fast = self._state == _OPEN and not self.conn.extensions
        self._wake()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._state != _CLOSED:
            self._closing(self.conn.close_code or 1006, self.conn.close_reason or "")
            self._state = _CLOSED
        self._cancel_timer()
        self._server.state.connections.discard(self)
        self._wake()

    # -- the Socket interface ------------------------------------------------------------

    def write_frame(self, frame: bytes) -> bool:
        if not self._fast:
            return False
        self.transport.write(frame)  # type: ignore[union-attr]  # set whenever _fast is
        return True

    async def send_text(self, text: str) -> None:
        await self._wait_writable()
        if self.conn.extensions:
            self.conn.send_text(text.encode())
            self._flush()
        else:
            self.transport.write(text_frame(text.encode()))  # type: ignore[union-attr]

    async def close(self, code: int, reason: str) -> None:
        if self._state == _OPEN:
            self.conn.send_close(code, reason)
            self._flush()
            self._closing(code, reason)

    def abort(self) -> None:
        if self._state != _CLOSED and self.transport is not None:
            self._closing(1006, "")
            self._state = _CLOSED
            self.transport.abort()

    # -- uvicorn's shutdown -------------------------------------------------------------

    def shutdown(self) -> None:
        """Server shutdown: "service restart" (1012) to whatever is still open."""
        if self._state == _CONNECTING:
            self._send_response(self.conn.reject(500, "Internal Server Error"))
        elif self._state == _OPEN:
            self.conn.send_close(1012)
            self._flush()
            self._closing(1012, "")
        if self.transport is not None:
            self.transport.close()

    # -- the ASGI side ----------------------------------------------------------------

    async def receive(self) -> dict[str, Any]:
        while not self._items:
            await self._wait()
        items = self._items
        message = items.popleft()
        if not items:
            self._items = None
            if self._read_paused and self._state < _CLOSED:
                self._read_paused = False
                self.transport.resume_reading()  # type: ignore[union-attr]
        return message

    async def send(self, message: MutableMapping[str, Any]) -> None:
        kind = message["type"]
        if self._state == _CLOSED:
            raise SocketClosed("the client has gone")  # also during the handshake: nothing to answer
        if self._state == _CONNECTING:
            self._answer_handshake(kind, message)
        elif kind == "websocket.send":
            text = message.get("text")
            if text is not None:
                await self.send_text(text)
            else:
                await self._wait_writable()
                self.conn.send_binary(message.get("bytes") or b"")
                self._flush()
        elif kind == "websocket.close":
            if self._state != _OPEN:
                raise SocketClosed("the WebSocket is already closing")
            await self.close(message.get("code", 1000), message.get("reason") or "")
        else:
            raise RuntimeError(f"unexpected ASGI message {kind!r} on an open WebSocket")

    def _answer_handshake(self, kind: str, message: MutableMapping[str, Any]) -> None:
        response = self._response
        if kind == "websocket.accept" and isinstance(response, Response):
            accept_response(response, self._server.state.default_headers, message)
            self._response = None
            self._log_access("[accepted]")
            self.conn.send_response(response)
            self._flush()
            self._state = _OPEN
            self._fast = self._writable and not self.conn.extensions
            self._schedule_ping()
            if self._fail_when_open is not None:
                self._fail(*self._fail_when_open)
        elif kind == "websocket.close":
            self._push({"type": "websocket.disconnect", "code": 1006})
            self._log_access("403")
            self._send_response(self.conn.reject(403, ""))
        elif kind == "websocket.http.response.start":
            self._response = (message["status"], list(message.get("headers", ())), b"")
        elif kind == "websocket.http.response.body" and isinstance(response, tuple):
            status, raw_headers, body = response
            body += message.get("body", b"")
            if message.get("more_body"):
                self._response = (status, raw_headers, body)
                return
            self._push({"type": "websocket.disconnect", "code": 1006})
            self._send_response(http_response(status, raw_headers, body))
        else:
            raise RuntimeError(f"unexpected ASGI message {kind!r} during the WebSocket handshake")

    # -- received events --------------------------------------------------------------------

    def _on_request(self, request: Request) -> None:
        response = self.conn.accept(request)
        if response.status_code != 101:
            self._send_response(response)
            return
        self._response = response
        assert self.transport is not None
        self.scope = asgi_scope(request, self.transport, self._server, self)
        self._push({"type": "websocket.connect"})
        self._start_app()

    def _on_frame(self, frame: Frame) -> None:
        opcode = frame.opcode
        if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
            if not frame.fin:
                self._fragments = [_TEXT if opcode is Opcode.TEXT else _BINARY, bytes(frame.data)]
                return
            self._deliver(opcode is Opcode.TEXT, bytes(frame.data))
        elif opcode is Opcode.CONT:
            if self._fragments is None:
                return  # the parser refuses a stray continuation before this point
            self._fragments.append(bytes(frame.data))
            if frame.fin:
                first, *parts = self._fragments
                self._fragments = None
                self._deliver(first is _TEXT, b"".join(parts))
        elif opcode is Opcode.PONG:
            if self._ping is not None and bytes(frame.data) == self._ping:
                self._ping = None
                self._cancel_timer()
                self._schedule_ping()
        elif opcode is Opcode.CLOSE:
            # The library has queued the reply (or, if we closed first, the end of the stream).
            received = self.conn.close_rcvd
            self._closing(received.code if received else 1005, received.reason if received else "")

    def _deliver(self, is_text: bool, data: bytes) -> None:
        # Messages sent before the app accepted are queued for it (after `websocket.connect`);
        # past our close frame they are dropped (reading goes on until the peer's close).
        if self._state > _OPEN or self._fail_when_open is not None:
            return
        if is_text:
            try:
                message: dict[str, Any] = {"type": "websocket.receive", "text": data.decode()}
            except UnicodeDecodeError:
                CLIENT_ERRORS.warning(self._server.loop, "WebSocket closed with 1007: a text message was not UTF-8")
                if self._state == _OPEN:
                    self._fail(1007, "invalid UTF-8")
                else:
                    self._fail_when_open = (1007, "invalid UTF-8")
                return
        else:
            message = {"type": "websocket.receive", "bytes": data}
        self._push(message)
        if not self._read_paused:  # the app reads one message at a time: so does the socket
            self._read_paused = True
            self.transport.pause_reading()  # type: ignore[union-attr]

    # -- the app task -------------------------------------------------------------------

    def _start_app(self) -> None:
        server = self._server
        result = server.app(self.scope, self.receive, self.send)
        task = server.loop.create_task(result if asyncio.iscoroutine(result) else _await(result))
        task.add_done_callback(self._app_finished)
        server.state.tasks.add(task)

    def _app_finished(self, task: asyncio.Task[None]) -> None:
        self._server.state.tasks.discard(task)
        exc = None if task.cancelled() else task.exception()
        if exc is not None and not isinstance(exc, SocketClosed):
            if self._state == _CLOSED:  # the client left mid-way; whatever the app raised about it is expected
                log.debug("ASGI application ended after the client left", exc_info=exc)
            else:
                log.error("Exception in ASGI application", exc_info=exc)
        if self._state == _CONNECTING:
            self._send_response(self.conn.reject(500, "Internal Server Error"))
        elif self._state == _OPEN:
            self.conn.send_close(1011 if exc is not None else 1000)
            self._flush()
            self._closing(1000, "")

    # -- helpers ------------------------------------------------------------------------

    def _log_access(self, outcome: str) -> None:
        if access_log.isEnabledFor(logging.INFO) and self.scope is not None:
            scope = self.scope
            client = "{}:{}".format(*scope["client"]) if scope["client"] else "-"
            query = scope["query_string"].decode("latin-1")
            access_log.info('%s - "WebSocket %s" %s', client, scope["path"] + ("?" + query if query else ""), outcome)

    def _flush(self) -> None:
        """Write what the library has to send; its end-of-stream marker closes the transport."""
        writes = self.conn.data_to_send()
        if not writes or self.transport is None:
            return
        if writes[-1] == b"":
            del writes[-1]
            self.transport.write(b"".join(writes))
            if self._state < _CLOSING:
                self._closing(self.conn.close_code or 1006, self.conn.close_reason or "")
            self.transport.close()
        else:
            self.transport.write(writes[0] if len(writes) == 1 else b"".join(writes))

    def _send_response(self, response: Response) -> None:
        self.conn.send_response(response)
        self._flush()
        self._state = max(self._state, _CLOSING)

    def _closing(self, code: int, reason: str) -> None:
        """Enter the closing state once: tell the app, keep reading for the peer's
        close, and give the closing handshake `close_timeout` seconds."""
        if self._state >= _CLOSING:
            return
        self._state = _CLOSING
        self._fast = False
        self._push({"type": "websocket.disconnect", "code": code, "reason": reason})
        if self._read_paused and self.transport is not None:
            self._read_paused = False
            self.transport.resume_reading()
        self._cancel_timer()
        self._ping = None
        self._timer = self._server.loop.call_later(self.close_timeout, self.abort, context=_NO_CONTEXT)
        self._wake()

    def _push(self, message: dict[str, Any]) -> None:
        if self._items is None:
            self._items = collections.deque()
        self._items.append(message)
        self._wake()

    async def _wait(self) -> None:
        waiter = self._server.loop.create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            if self._waiters is not None and waiter in self._waiters:
                self._waiters.remove(waiter)
                if not self._waiters:
                    self._waiters = None

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    async def _wait_writable(self) -> None:
        while True:
            if self._state != _OPEN:
                raise SocketClosed("the WebSocket is closing or closed")
            if self._writable:
                return
            await self._wait()

    def _schedule_ping(self) -> None:
        interval = self._server.ping_interval
        if interval and self._state == _OPEN:
            self._timer = self._server.loop.call_later(interval, self._send_ping, context=_NO_CONTEXT)

    def _send_ping(self) -> None:
        self._timer = None
        if self._state != _OPEN:
            return
        self._ping = random.getrandbits(32).to_bytes(4, "big")
        self.conn.send_ping(self._ping)
        self._flush()
        timeout = self._server.ping_timeout
        if timeout:
            self._timer = self._server.loop.call_later(timeout, self._ping_timed_out, context=_NO_CONTEXT)
        else:
            self._schedule_ping()

    def _ping_timed_out(self) -> None:
        self._timer = None
        if self._state == _OPEN:
            self._fail(1011, "keepalive ping timeout")

    def _fail(self, code: int, reason: str) -> None:
        """Close with `code` without waiting for the peer's close (RFC 6455 "fail the connection")."""
        self.conn.fail(code, reason)
        self._closing(code, reason)
        self._flush()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


async def _await(awaitable: Awaitable[None]) -> None:
    await awaitable
