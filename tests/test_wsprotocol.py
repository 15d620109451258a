"""signalhub's uvicorn WebSocket protocol, over real sockets with a real client.

Each test serves a small ASGI app with `SignalhubWebSocketProtocol` in this
event loop and talks to it with the websockets client (or a raw socket).
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

from signalhub.sendqueue import Frame
from signalhub.wsprotocol import WRITE_FRAME, SignalhubWebSocketProtocol, _Gate, _Inbox

App = Callable[[dict, Callable, Callable], Awaitable[None]]


class QuickCloseProtocol(SignalhubWebSocketProtocol):
    """The same protocol with a short closing timeout, so the abort is seen quickly."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.close_timeout = 0.3


@contextlib.asynccontextmanager
async def serving(app: App, *, protocol=SignalhubWebSocketProtocol, deflate: bool = False) -> AsyncIterator[uvicorn.Server]:
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, ws=protocol, ws_per_message_deflate=deflate,
        lifespan="off", log_level="warning",
    )
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
    return Frame(None, text).ws_bytes


async def test_pre_encoded_frames_and_asgi_sends_arrive_in_the_order_they_were_written():
    results: dict = {}

    async def app(scope, receive, send):
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        write = scope["extensions"][WRITE_FRAME]
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
        results["fast"] = scope["extensions"][WRITE_FRAME](frame("raw"))
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
        write = scope["extensions"][WRITE_FRAME]
        await send({"type": "websocket.close", "code": 4408, "reason": "too slow"})
        results["after_close"] = write(frame("late"))

    async with serving(app) as server:
        async with connect(f"ws://127.0.0.1:{server.port}/ws") as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd.code == 4408
    assert results["after_close"] is False


async def test_a_peer_that_stops_reading_is_aborted_after_the_app_ends_instead_of_lingering():
    state: dict = {}

    async def app(scope, receive, send):
        await receive()
        await send({"type": "websocket.accept"})
        write = scope["extensions"][WRITE_FRAME]
        chunk = frame("x" * 16_000)
        for _ in range(2_000):  # bounded: the peer's buffers and then the transport's fill first
            if not write(chunk):
                break
        state["paused"] = not write(chunk)
        # The app gives up on this client (as a 4408 does) without a close frame getting through.

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


async def test_the_inbox_hands_items_over_in_order_and_holds_no_deque_while_empty():
    inbox = _Inbox()
    getter = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    inbox.put_nowait(1)
    inbox.put_nowait(2)
    assert await asyncio.wait_for(getter, 1) == 1
    assert not inbox.empty()
    assert await inbox.get() == 2
    assert inbox.empty() and inbox._items is None


async def test_a_cancelled_inbox_reader_does_not_lose_the_next_item():
    inbox = _Inbox()
    first = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    first.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await first
    second = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    inbox.put_nowait("kept")
    assert await asyncio.wait_for(second, 1) == "kept"


async def test_the_gate_lets_every_waiter_through_when_set_and_none_while_clear():
    gate = _Gate()
    await asyncio.wait_for(gate.wait(), 1)  # open: no wait
    gate.clear()
    waiters = [asyncio.create_task(gate.wait()) for _ in range(3)]
    await asyncio.sleep(0.01)
    assert not any(w.done() for w in waiters)
    waiters[0].cancel()
    gate.set()
    await asyncio.wait_for(asyncio.gather(*waiters[1:]), 1)
    assert gate.is_set() and gate._waiters is None


async def test_every_attribute_uvicorns_protocol_sets_is_there_with_the_same_initial_value():
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
    from uvicorn.server import ServerState
    from websockets.server import ServerProtocol

    async def app(scope, receive, send):  # pragma: no cover - never called
        pass

    config = uvicorn.Config(app, ws="websockets-sansio", lifespan="off")
    config.load()
    state, app_state = ServerState(), {}
    stock = WebSocketsSansIOProtocol(config=config, server_state=state, app_state=app_state)
    ours = SignalhubWebSocketProtocol(config=config, server_state=state, app_state=app_state)
    other = SignalhubWebSocketProtocol(config=config, server_state=state, app_state=app_state)

    replaced = {"queue": _Inbox, "writable": _Gate, "conn": ServerProtocol}
    for name, value in vars(stock).items():
        mine = getattr(ours, name)
        if name in replaced:
            assert isinstance(mine, replaced[name]), name
        elif isinstance(value, (bool, int, float, str, bytes, list, type(None))):
            assert mine == value, name
        else:
            assert mine is value, name  # the server's own objects, shared
    assert ours._shared is other._shared  # one copy of the server-wide attributes
    assert len(vars(ours)) < len(vars(stock)) / 2
