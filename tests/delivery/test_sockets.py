"""One socket's troubles never cost another socket, nor the client, a signal:
slow consumers (4408 then resume), coalesced progress, token expiry (4401),
graceful shutdown (1001), and a peer that stopped reading among 100 that did not.

Real `signalhub api` processes, an emitter process, real sockets on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import socket
import time
import urllib.request
import uuid

from signalhub.auth import mint_user_token
from tests.delivery.harness import Emitter, StreamClient, assert_each_once_in_order, start_apis, stop_apis, stored
from tests.support import SECRET, ApiProcess

COUNT = 1000
BIG = "x" * 7000  # 1,000 of them outgrow any socket buffer; each still fits one NOTIFY


def small_buffer_socket(port: int, rcvbuf: int = 4096) -> socket.socket:
    """A connected TCP socket with a small receive buffer (set before connect, so the window is small)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    return sock


def wait_for_metric(api: ApiProcess, name: str, value: float, timeout: float = 60.0) -> None:
    """Poll `/metrics` (every 20 ms, at most `timeout`) until the counter `name` reaches `value`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{api.base}/metrics", timeout=5) as response:
            for line in response.read().decode().splitlines():
                if line.startswith(name + " ") and float(line.split()[1]) >= value:
                    return
        time.sleep(0.02)
    raise TimeoutError(f"{name} did not reach {value} within {timeout}s")


async def open_paused_client(client: StreamClient, api: ApiProcess) -> None:
    """A websockets client that reads nothing until told: its library queue holds 1 message."""
    await client.open(api.ws, sock=small_buffer_socket(api.port), max_queue=1)


async def test_slow_consumer_is_closed_with_4408_and_gets_everything_after_resuming(database_url, artifacts, token):
    user = uuid.uuid4()
    [api] = await start_apis(1, database_url, artifacts, SIGNALHUB_SEND_QUEUE_LIMIT="20")
    try:
        client = StreamClient(token(user))
        await open_paused_client(client, api)
        emitting = asyncio.create_task((await Emitter.start(database_url, "postgres", [user], COUNT, data_padding=BIG)).result())
        # The client starts reading once the server has given up on its queue: a reader
        # that stays stalled past the close grace period is aborted instead (docs/delivery.md).
        await asyncio.to_thread(wait_for_metric, api, "signalhub_slow_consumer_disconnects_total", 1.0)
        code = await client.read_until_closed()
        assert (await emitting)["emitted"] == COUNT
        assert code == 4408
        assert len(client.signals) < COUNT

        await client.open(api.ws)  # ?since=<last seq>
        assert await client.read_until(COUNT)
        assert await client.read_control("resumed") == {"type": "resumed", "recovered": True}
        assert_each_once_in_order(client.signals, await stored(database_url, user))
        await client.close()
    finally:
        stop_apis([api])


async def test_under_backlog_newer_progress_replaces_older_but_completion_and_error_arrive(database_url, artifacts, token):
    user = uuid.uuid4()
    [api] = await start_apis(1, database_url, artifacts)
    try:
        client = StreamClient(token(user))
        await open_paused_client(client, api)
        # COUNT progress signals of one workflow, with an error and a completion at the end.
        plan = {"kinds": ["progress"], "workflows": 1, "data_padding": BIG}
        await (await Emitter.start(database_url, "postgres", [user], COUNT, **plan)).result()
        await (await Emitter.start(database_url, "postgres", [user], 2, kinds=["error", "completion"])).result()
        expected = await stored(database_url, user)

        assert await client.read_until_shown(expected[-1][0], timeout=60)
        kinds = [m["signal_type"] for m in client.signals]
        assert kinds[-2:] == ["error", "completion"]  # never dropped
        assert 0 < kinds.count("progress") < COUNT  # unsent older progress was replaced
        assert client.signals[-3]["seq"] == expected[-3][0]  # the newest progress is never replaced
        seqs = [m["seq"] for m in client.signals]
        assert seqs == sorted(set(seqs))
        assert set(seqs) <= {seq for seq, _ in expected}
        assert not client.close_codes  # coalescing kept the queue small: no 4408
        await client.close()
    finally:
        stop_apis([api])


async def test_socket_whose_token_expires_is_closed_with_4401(database_url, artifacts):
    user = uuid.uuid4()
    [api] = await start_apis(1, database_url, artifacts, SIGNALHUB_JWT_LEEWAY="0")
    try:
        client = StreamClient(mint_user_token(SECRET, user, ttl_seconds=2))
        await client.open(api.ws)
        await asyncio.wait_for(client.ws.wait_closed(), 30)
        assert client.ws.close_code == 4401
        assert "expired" in client.ws.close_reason
    finally:
        stop_apis([api])


async def test_sigterm_closes_sockets_with_1001_and_clients_resume_on_another_instance(database_url, artifacts, token):
    user = uuid.uuid4()
    a, b = await start_apis(2, database_url, artifacts)
    emitter = None
    try:
        clients = [StreamClient(token(user)) for _ in range(3)]
        for client in clients:
            await client.open(a.ws)
        mute = await asyncio.to_thread(stalled_peer, a.port, token(user))  # never reads, never answers a close
        emitter = await Emitter.start(database_url, "postgres", [user], 300, pace=0.005)
        assert await clients[0].read_until(50)

        a.proc.send_signal(signal.SIGTERM)
        for client in clients:
            assert await client.read_until_closed() == 1001
        a.proc.wait(20)  # exits within a bounded time (raises otherwise), the mute peer included
        mute.close()

        for client in clients:
            await client.open(b.ws)
        for client in clients:
            assert await client.read_until(300)
        assert (await emitter.result())["emitted"] == 300
        expected = await stored(database_url, user)
        for client in clients:
            assert_each_once_in_order(client.signals, expected)
            await client.close()
    finally:
        if emitter is not None:
            await emitter.kill()
        stop_apis([a, b])


def stalled_peer(port: int, token: str) -> socket.socket:
    """A WebSocket handshake on a raw socket that will never read again."""
    sock = small_buffer_socket(port, rcvbuf=2048)
    sock.setblocking(True)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    sock.settimeout(20)
    assert sock.recv(12) == b"HTTP/1.1 101"
    return sock


def metric(api: ApiProcess, name: str) -> float:
    with urllib.request.urlopen(f"{api.base}/metrics", timeout=10) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(f"{name} "):
                return float(line.split()[1])
    raise AssertionError(f"{name} not exported")


def send_queue_max_frames(api: ApiProcess) -> float:
    return metric(api, "signalhub_send_queue_max_frames")


async def test_a_peer_that_stopped_reading_is_let_go_once_its_queue_overflows(database_url, artifacts, token):
    user = uuid.uuid4()
    [api] = await start_apis(1, database_url, artifacts, SIGNALHUB_SEND_QUEUE_LIMIT="20")
    stalled = None
    try:
        stalled = await asyncio.to_thread(stalled_peer, api.port, token(user))
        assert metric(api, "signalhub_connections") == 1
        # Far more than its socket buffers, the transport's and a 20-frame queue hold.
        await (await Emitter.start(database_url, "postgres", [user], 1000, data_padding=BIG)).result()
        deadline = time.monotonic() + 30
        while metric(api, "signalhub_connections") > 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        # The 4408 could not be written (the peer reads nothing), so the socket was dropped.
        assert metric(api, "signalhub_connections") == 0
        assert metric(api, "signalhub_slow_consumer_disconnects_total") >= 1
    finally:
        if stalled is not None:
            stalled.close()
        stop_apis([api])


async def test_a_peer_that_stopped_reading_does_not_delay_100_others(database_url, artifacts, token):
    user = uuid.uuid4()
    [api] = await start_apis(1, database_url, artifacts, SIGNALHUB_MAX_CONNECTIONS_PER_USER="200")
    stalled = None
    try:
        stalled = await asyncio.to_thread(stalled_peer, api.port, token(user))
        # Fill the stalled peer's socket buffers first, so its sender is stuck mid-write.
        await (await Emitter.start(database_url, "postgres", [user], 500, data_padding=BIG)).result()
        clients = [StreamClient(token(user)) for _ in range(100)]
        await asyncio.gather(*(c.open(api.ws) for c in clients))
        started = time.monotonic()
        emitter = await Emitter.start(database_url, "postgres", [user], 300)
        results = await asyncio.gather(*(c.read_until(300, timeout=60) for c in clients))
        elapsed = time.monotonic() - started
        assert all(results)
        assert elapsed < 30, f"100 clients took {elapsed:.1f}s"  # generous: seconds, not a benchmark
        await emitter.result()
        expected = (await stored(database_url, user))[500:]
        for client in clients:
            assert_each_once_in_order(client.signals, expected)
        # Meanwhile the stalled peer's frames are still waiting: it really was stuck.
        assert await asyncio.to_thread(send_queue_max_frames, api) > 0
        await asyncio.gather(*(c.close() for c in clients))
    finally:
        if stalled is not None:
            stalled.close()
        stop_apis([api])
