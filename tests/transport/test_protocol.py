"""signalhub's WebSocket protocol, over real sockets with a real client.

Each test serves a small ASGI app with `WebSocketProtocol` (through uvicorn's
`ws=` setting) in this event loop and talks to it with the websockets client
or a raw socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import uvicorn
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from signalhub.transport import SOCKET_EXTENSION, WebSocketProtocol, text_frame

App = Callable[[dict, Callable, Callable], Awaitable[None]]


class QuickCloseProtocol(WebSocketProtocol):
    """The same protocol with a short closing timeout, so the abort is seen quickly."""

    __slots__ = ()
    close_timeout = 0.3


def serving(app: App, *, protocol=WebSocketProtocol, deflate: bool = False):
    return serving_with(app, ws=protocol, ws_per_message_deflate=deflate)


@contextlib.asynccontextmanager
async def serving_with(app: App, **options) -> AsyncIterator[uvicorn.Server]:
    options.setdefault("ws", WebSocketProtocol)
    options.setdefault("ws_per_message_deflate", False)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="warning", **options)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        await asyncio.sleep(0.01)
    server.port = server.servers[0].sockets[0].getsockname()[1]  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


def frame(text: str) -> bytes:
    return text_frame(text.encode())


def writer(scope: dict):
    return scope["extensions"][SOCKET_EXTENSION].write_frame


async def test_pre_encoded_frames_and_asgi_sends_arrive_in_the_order_they_were_written():
    results: dict = {}

    async def app(scope, receive, send):
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        write = writer(scope)
        results["fast"] = [write(frame("one")), write(frame("two " + "x" * 300))]  # 2- and 4-byte headers
        await send({"type": "websocket.send", "text": "three"})
        results["fast"].append(write(frame("four" * 20_000)))  # 8-byte length header
        await receive()  # until the client goes

    async with serving(app) as server:
        async with connect(f"ws://127.0.0.1:{server.port}/ws") as ws:
            got = [await asyncio.wait_for(ws.recv(), 5) for _ in range(4)]
    assert got == ["one", "two " + "x" * 300, "three", "four" * 20_000]
    assert results["fast"] == [True, True, True]


async def test_received_messages_reach_the_app_in_order_and_the_disconnect_after_them():
    received: list[dict] = []
    done = asyncio.Event()

    async def app(scope, receive, send):
        await receive()
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            received.append(message)
            if message["type"] == "websocket.disconnect":
                done.set()
                return

    async with serving(app) as server:
        async with connect(f"ws://127.0.0.1:{server.port}/ws") as ws:
            for n in range(20):
                await ws.send(f"m{n}")
            await ws.send(b"raw")
        await asyncio.wait_for(done.wait(), 5)
    assert [m.get("text") for m in received[:20]] == [f"m{n}" for n in range(20)]
    assert received[20] == {"type": "websocket.receive", "bytes": b"raw"}
    assert received[21]["type"] == "websocket.disconnect" and received[21]["code"] == 1000


async def test_write_frame_refuses_when_deflate_was_negotiated_and_the_asgi_send_still_works():
    results: dict = {}

    async def app(scope, receive, send):
        await receive()
        await send({"type": "websocket.accept"})
        results["fast"] = writer(scope)(frame("raw"))
        await send({"type": "websocket.send", "text": "compressed"})
        await receive()

    async with serving(app, deflate=True) as server:
        async with connect(f"ws://127.0.0.1:{server.port}/ws", compression="deflate") as ws:
            assert await asyncio.wait_for(ws.recv(), 5) == "compressed"
    assert results["fast"] is False  # an uncompressed frame would break the deflate stream


async def test_write_frame_refuses_once_the_close_is_sent():
    results: dict = {}

    async def app(scope, receive, send):
        await receive()
        await send({"type": "websocket.accept"})
        write = writer(scope)
        await send({"type": "websocket.close", "code": 4408, "reason": "too slow"})
        results["after_close"] = write(frame("late"))

    async with serving(app) as server:
        async with connect(f"ws://127.0.0.1:{server.port}/ws") as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd.code == 4408
    assert results["after_close"] is False


async def test_a_peer_that_stops_reading_is_aborted_after_the_close_timeout_instead_of_lingering():
    state: dict = {}

    async def app(scope, receive, send):
        await receive()
        await send({"type": "websocket.accept"})
        write = writer(scope)
        chunk = frame("x" * 16_000)
        for _ in range(2_000):  # bounded: the peer's buffers and then the transport's fill first
            if not write(chunk):
                break
        state["paused"] = not write(chunk)
        # The app gives up on this client (as a 4408 does); the close frame cannot get through.
        await send({"type": "websocket.close", "code": 4408, "reason": "too slow"})

    async with serving(app, protocol=QuickCloseProtocol) as server:
        peer = socket.create_connection(("127.0.0.1", server.port))
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        try:
            peer.sendall(
                b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
            # ...and never reads again.
            deadline = time.monotonic() + 10
            while "paused" not in state and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert state.get("paused") is True
            while server.server_state.connections and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert not server.server_state.connections, "the stalled socket is still held"
        finally:
            peer.close()


HANDSHAKE = (
    b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
)


def masked_text(payload: bytes) -> bytes:
    """A client's text frame (clients must mask; a zero mask keeps the payload as is)."""
    assert len(payload) < 126
    return bytes((0x81, 0x80 | len(payload))) + b"\0\0\0\0" + payload


async def raw_exchange(port: int, data: bytes, *, then: bytes = b"", read_for: float = 2.0) -> bytes:
    """Send `data`; once the response head is in, send `then`; everything read within `read_for`."""
    reader, writer_ = await asyncio.open_connection("127.0.0.1", port)
    writer_.write(data)
    got = b""
    if then:
        got = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        writer_.write(then)
    deadline = time.monotonic() + read_for
    with contextlib.suppress(asyncio.TimeoutError, ConnectionError):
        while time.monotonic() < deadline:
            chunk = await asyncio.wait_for(reader.read(65536), deadline - time.monotonic())
            if not chunk:
                break
            got += chunk
    writer_.close()
    return got


async def test_the_subprotocol_the_app_accepts_is_echoed_and_the_scope_carries_the_handshake():
    seen: dict = {}

    async def app(scope, receive, send):
        await receive()
        seen.update(path=scope["path"], query=scope["query_string"], subprotocols=scope["subprotocols"],
                    headers=dict(scope["headers"]))
        await send({"type": "websocket.accept", "subprotocol": "bearer"})
        await receive()

    async with serving(app) as server:
        async with connect(f"ws://127.0.0.1:{server.port}/ws?since=3", subprotocols=["bearer", "tok"],
                           origin="http://localhost:5173") as ws:
            assert ws.subprotocol == "bearer"
    assert seen["path"] == "/ws" and seen["query"] == b"since=3"
    assert seen["subprotocols"] == ["bearer", "tok"]
    assert seen["headers"][b"origin"] == b"http://localhost:5173"  # header names lower-cased, as ASGI requires


async def test_a_close_before_accept_is_a_403_and_an_app_that_fails_before_accepting_is_a_500():
    async def refuses(scope, receive, send):
        await receive()
        await send({"type": "websocket.close", "code": 1008})

    async def fails(scope, receive, send):
        await receive()
        raise RuntimeError("boom")

    async with serving(refuses) as server:
        assert (await raw_exchange(server.port, HANDSHAKE + b"\r\n")).startswith(b"HTTP/1.1 403")
    async with serving(fails) as server:
        assert (await raw_exchange(server.port, HANDSHAKE + b"\r\n")).startswith(b"HTTP/1.1 500")


async def test_a_text_message_that_is_not_utf8_closes_1007_and_is_logged_once_without_a_traceback(caplog):
    async def app(scope, receive, send):
        await receive()
        await send({"type": "websocket.accept"})
        while (await receive())["type"] != "websocket.disconnect":
            pass

    caplog.set_level("INFO")
    async with serving(app) as server:
        for _ in range(3):
            got = await raw_exchange(server.port, HANDSHAKE + b"\r\n", then=masked_text(b"\xff\xfe"), read_for=1.0)
            close = got[got.index(b"\r\n\r\n") + 4:]
            assert close[:1] == b"\x88" and int.from_bytes(close[2:4], "big") == 1007
    lines = [r for r in caplog.records if "1007" in r.getMessage()]
    assert len(lines) == 1 and lines[0].exc_info is None


async def test_an_oversized_handshake_header_line_is_answered_431_and_an_oversized_url_414():
    async def app(scope, receive, send):  # pragma: no cover - never reached
        await receive()

    async with serving(app) as server:
        big_header = await raw_exchange(server.port, HANDSHAKE + b"X-Big: " + b"a" * 9000 + b"\r\n\r\n")
        big_url = await raw_exchange(server.port, HANDSHAKE.replace(b"/ws", b"/ws?q=" + b"a" * 9000) + b"\r\n")
    assert big_header.startswith(b"HTTP/1.1 431"), big_header[:60]
    assert big_url.startswith(b"HTTP/1.1 414"), big_url[:60]


async def test_a_peer_that_does_not_answer_pings_is_closed_1011():
    async def app(scope, receive, send):
        await receive()
        await send({"type": "websocket.accept"})
        while (await receive())["type"] != "websocket.disconnect":
            pass

    config = dict(ws_ping_interval=0.1, ws_ping_timeout=0.2)
    async with serving_with(app, **config) as server:
        got = await raw_exchange(server.port, HANDSHAKE + b"\r\n", read_for=2.0)
    frames = server_frames(got[got.index(b"\r\n\r\n") + 4:])
    assert frames[0][0] == 0x89  # the ping (its payload is random: parsed, not searched)
    [close] = [payload for opcode, payload in frames if opcode == 0x88]
    assert int.from_bytes(close[:2], "big") == 1011


def server_frames(data: bytes) -> list[tuple[int, bytes]]:
    """(first byte, payload) of each unmasked server frame in `data` (payloads under 126 bytes)."""
    frames, at = [], 0
    while at + 2 <= len(data):
        length = data[at + 1] & 0x7F
        assert length < 126, "a control frame"
        frames.append((data[at], data[at + 2:at + 2 + length]))
        at += 2 + length
    return frames


async def test_server_shutdown_closes_open_sockets_with_1012():
    async def app(scope, receive, send):
        await receive()
        await send({"type": "websocket.accept"})
        while (await receive())["type"] != "websocket.disconnect":
            pass

    async with serving(app) as server:
        ws = await connect(f"ws://127.0.0.1:{server.port}/ws")
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012


async def test_an_idle_socket_keeps_no_handshake_headers_queue_or_waiter_list():
    held: dict = {}

    async def app(scope, receive, send):
        await receive()
        await send({"type": "websocket.accept"})
        held["socket"] = scope["extensions"][SOCKET_EXTENSION]
        await receive()

    async with serving(app) as server:
        async with connect(f"ws://127.0.0.1:{server.port}/ws?token=secret") as ws:
            await asyncio.sleep(0.1)
            sock = held["socket"]
            assert sock._items is None and sock._fragments is None and sock._response is None
            assert not hasattr(sock, "__dict__")  # slots only
            await ws.close()


async def test_a_client_that_leaves_before_the_app_answers_the_handshake_costs_no_error_log(caplog):
    outcome: dict = {}
    gone = asyncio.Event()

    async def app(scope, receive, send):
        await receive()
        await gone.wait()  # e.g. a slow token check; meanwhile the client hangs up
        await asyncio.sleep(0.1)
        try:
            await send({"type": "websocket.accept"})
        except OSError as exc:
            outcome["raised"] = type(exc).__name__
            raise

    caplog.set_level("DEBUG")
    async with serving(app) as server:
        reader, writer_ = await asyncio.open_connection("127.0.0.1", server.port)
        writer_.write(HANDSHAKE + b"\r\n")
        await asyncio.sleep(0.2)
        writer_.close()
        gone.set()
        await asyncio.sleep(0.5)
    assert outcome == {"raised": "SocketClosed"}
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
