"""Every limit answers with its documented close code or status (docs/security.md).

One API process runs with small limits so each can be reached quickly:
2 connections per user, 4 in total, 2 inbound messages per second (burst 4);
the message size (4096 bytes) and body size (1 MiB) limits are the defaults.
"""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest
import websockets

from tests.support import ApiProcess, async_wait_until, connect, recv_json

MAX_MESSAGE = 4096
MAX_BODY = 1024 * 1024


@pytest.fixture(scope="module")
def limited_api(database_url, tmp_path_factory):
    server = ApiProcess(
        database_url,
        tmp_path_factory.mktemp("limits"),
        SIGNALHUB_MAX_CONNECTIONS_PER_USER="2",
        SIGNALHUB_MAX_CONNECTIONS="4",
        SIGNALHUB_MESSAGES_PER_SECOND="2",
    ).start()
    yield server
    server.stop()


async def closed_with(ws, timeout: float = 10.0) -> websockets.frames.Close:
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await recv_json(ws, timeout)
    return closed.value.rcvd


def ping_of_size(size: int) -> str:
    frame = json.dumps({"type": "ping", "pad": ""})
    return json.dumps({"type": "ping", "pad": "x" * (size - len(frame))})


async def test_inbound_message_at_the_size_limit_is_answered(limited_api, token):
    ws, _ = await connect(limited_api.ws, token(uuid.uuid4()))
    message = ping_of_size(MAX_MESSAGE)
    assert len(message.encode()) == MAX_MESSAGE
    await ws.send(message)
    assert await recv_json(ws, 10) == {"type": "pong"}
    await ws.close()


async def test_inbound_message_over_the_size_limit_closes_with_1009(limited_api, token):
    ws, _ = await connect(limited_api.ws, token(uuid.uuid4()))
    await ws.send(ping_of_size(MAX_MESSAGE + 1))
    assert (await closed_with(ws)).code == 1009


async def test_too_many_messages_per_second_close_with_1008(limited_api, token):
    ws, _ = await connect(limited_api.ws, token(uuid.uuid4()))
    for _ in range(30):
        try:
            await ws.send('{"type":"ping"}')
        except websockets.ConnectionClosed:
            break
    pongs = 0
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            assert await recv_json(ws, 10) == {"type": "pong"}
            pongs += 1
    assert closed.value.rcvd.code == 1008
    assert "too many messages" in closed.value.rcvd.reason
    assert pongs <= 4  # at most the burst was answered (pongs still queued at the close are dropped)


async def test_connections_per_user_are_limited_with_1013(limited_api, token):
    user = uuid.uuid4()
    first = [(await connect(limited_api.ws, token(user)))[0] for _ in range(2)]
    third = await websockets.connect(f"{limited_api.ws}?token={token(user)}", open_timeout=10)
    close = await closed_with(third)
    assert (close.code, close.reason) == (1013, "too many connections for this user")
    # Another user is not affected by this user's limit.
    other, _ = await connect(limited_api.ws, token(uuid.uuid4()))
    for ws in (*first, other):
        await ws.close()


async def status(api, service_token) -> dict:
    async with httpx.AsyncClient(base_url=api.base, timeout=10) as http:
        return (await http.get("/ws/status", headers={"Authorization": f"Bearer {service_token}"})).json()


async def test_connections_in_total_are_limited_with_1013_and_freed_on_close(limited_api, token, service_token):
    await async_wait_until(lambda: _total_is(limited_api, service_token, 0), timeout=10, what="no connections left")
    open_ = [(await connect(limited_api.ws, token(uuid.uuid4())))[0] for _ in range(4)]
    refused = await websockets.connect(f"{limited_api.ws}?token={token(uuid.uuid4())}", open_timeout=10)
    close = await closed_with(refused)
    assert (close.code, close.reason) == (1013, "server connection limit reached")

    await open_.pop().close()
    await async_wait_until(lambda: _total_is(limited_api, service_token, 3), timeout=10, what="a slot freed")
    late, _ = await connect(limited_api.ws, token(uuid.uuid4()))
    open_.append(late)
    for ws in open_:
        await ws.close()


async def _total_is(api, service_token, n: int) -> bool:
    return (await status(api, service_token))["total_connections"] == n


@pytest.mark.parametrize("limit", ["0", "101", "-1", "1000000", "ten"])
async def test_page_size_outside_1_to_100_is_422(limited_api, token, limit):
    async with httpx.AsyncClient(base_url=limited_api.base, timeout=10) as http:
        response = await http.get(
            "/api/v1/inbox/signals", params={"limit": limit}, headers={"Authorization": f"Bearer {token(uuid.uuid4())}"}
        )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "limit"]


@pytest.mark.parametrize("limit", ["1", "100"])
async def test_page_size_at_the_bounds_is_accepted(limited_api, token, limit):
    async with httpx.AsyncClient(base_url=limited_api.base, timeout=10) as http:
        response = await http.get(
            "/api/v1/inbox/signals", params={"limit": limit}, headers={"Authorization": f"Bearer {token(uuid.uuid4())}"}
        )
    assert response.status_code == 200


def signal_body(size: int) -> bytes:
    base = {"user_id": str(uuid.uuid4()), "signal_type": "status_update", "workflow_id": "w", "data": {"pad": ""}}
    raw = json.dumps(base).encode()
    base["data"]["pad"] = "x" * (size - len(raw))
    body = json.dumps(base).encode()
    assert len(body) == size
    return body


async def answer_to_declared_length(api, path: str, length: int, token: str) -> tuple[int, bytes]:
    """Send only the headers of a request announcing `length` body bytes; return status and body.

    A server that waited for the body would never answer (the read times out).
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", api.port)
    try:
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n".encode()
        )
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        lines = head.decode().split("\r\n")
        headers = dict(line.lower().split(": ", 1) for line in lines[1:] if line)
        body = await asyncio.wait_for(reader.readexactly(int(headers.get("content-length", 0))), 10)
        return int(lines[0].split()[1]), body
    finally:
        writer.close()


@pytest.mark.parametrize("path", ["/api/v1/signals", "/ws/send-test", "/api/v1/inbox/signals/mark-all-read"])
async def test_declared_body_over_the_limit_is_413_before_it_is_read(limited_api, service_token, path):
    status, body = await answer_to_declared_length(limited_api, path, MAX_BODY + 1, service_token)
    assert status == 413
    assert json.loads(body) == {"detail": f"request body too large (limit {MAX_BODY} bytes)"}


async def test_chunked_body_over_the_limit_is_413_while_it_streams(limited_api, service_token):
    body = signal_body(MAX_BODY + 1)

    async def chunks():  # no Content-Length: the server must count
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    headers = {"Authorization": f"Bearer {service_token}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=limited_api.base, timeout=10, headers=headers) as http:
        response = await http.post("/api/v1/signals", content=chunks())
    assert "content-length" not in response.request.headers
    assert response.status_code == 413


async def test_body_just_under_the_limit_is_accepted(limited_api, service_token):
    body = signal_body(MAX_BODY - 10 * 1024)  # NOTIFY payloads are small; the row is read by seq
    headers = {"Authorization": f"Bearer {service_token}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=limited_api.base, timeout=10, headers=headers) as http:
        response = await http.post("/api/v1/signals", content=body)
    assert response.status_code in (201, 422), response.text  # stored, or refused by the signal's own size rule
    assert response.status_code != 413


async def test_413_carries_cors_headers_so_a_browser_can_read_it(limited_api, service_token):
    body = signal_body(MAX_BODY + 1)

    async def chunks():
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    headers = {"Authorization": f"Bearer {service_token}", "Origin": "http://localhost:5173"}
    async with httpx.AsyncClient(base_url=limited_api.base, timeout=10, headers=headers) as http:
        response = await http.post("/api/v1/signals", content=chunks())
    assert response.status_code == 413
    assert response.headers["access-control-allow-origin"] == "http://localhost:5173"


async def test_document_uploads_have_their_own_larger_limit(limited_api, service_token):
    headers = {"Authorization": f"Bearer {service_token}", "Content-Type": "application/octet-stream"}
    async with httpx.AsyncClient(base_url=limited_api.base, timeout=30, headers=headers) as http:
        two_mib = await http.post("/api/v1/documents", content=b"x" * (2 * MAX_BODY))
    assert two_mib.status_code != 413  # past the 1 MiB default: the route decides
    status, _ = await answer_to_declared_length(limited_api, "/api/v1/documents", 11 * MAX_BODY, service_token)
    assert status == 413
