"""The WebSocket stream, over real sockets against a real `signalhub api` process."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
import websockets

from tests.support import (
    collect_signals,
    connect,
    emit_in_subprocess,
    no_message,
    recv_json,
)


async def test_user_receives_signal_emitted_by_another_process_and_nobody_else_does(api, database_url, token):
    alice, bob = uuid.uuid4(), uuid.uuid4()
    ws_alice, hello = await connect(api.ws, token(alice))
    ws_bob, _ = await connect(api.ws, token(bob))
    assert hello == {"type": "connected", "user_id": str(alice), "seq": 0}

    started = time.monotonic()
    [emitted] = await asyncio.to_thread(
        emit_in_subprocess,
        database_url,
        {"user_id": alice, "signal_type": "progress", "workflow_id": "doc-123",
         "data": {"progress": 0.5, "step": "Generating embeddings", "message": "Creating vector embeddings"}},
    )
    [signal] = await collect_signals(ws_alice, 1, timeout=5)
    assert time.monotonic() - started < 10  # subprocess start-up included; latency is measured in bench/
    assert signal == {
        "id": emitted["id"],
        "seq": emitted["seq"],
        "signal_type": "progress",
        "workflow_id": "doc-123",
        "data": {"progress": 0.5, "step": "Generating embeddings", "message": "Creating vector embeddings"},
        "timestamp": signal["timestamp"],
    }
    assert signal["timestamp"].endswith("Z")
    assert await no_message(ws_bob, 0.5)
    await ws_alice.close()
    await ws_bob.close()


async def test_every_tab_of_a_user_receives_each_signal(api, database_url, token, user_id):
    tabs = [(await connect(api.ws, token(user_id)))[0] for _ in range(3)]
    await asyncio.to_thread(
        emit_in_subprocess, database_url,
        {"user_id": user_id, "signal_type": "status_update", "workflow_id": "w", "data": {"status": "started"}},
    )
    for ws in tabs:
        [signal] = await collect_signals(ws, 1)
        assert signal["data"]["status"] == "started"
        await ws.close()


async def test_closed_socket_is_removed_from_status_at_once(api, token, user_id, service_token):
    import httpx

    ws, _ = await connect(api.ws, token(user_id))
    async with httpx.AsyncClient(base_url=api.base, headers={"Authorization": f"Bearer {service_token}"}) as http:
        status = (await http.get("/ws/status")).json()
        assert status["user_connection_counts"].get(str(user_id)) == 1
        await ws.close()

        async def gone() -> bool:
            body = (await http.get("/ws/status")).json()
            return str(user_id) not in body["user_connection_counts"]

        deadline = time.monotonic() + 3
        while not await gone():
            assert time.monotonic() < deadline, "closed connection still listed"
            await asyncio.sleep(0.02)


async def test_app_level_ping_gets_pong(api, token, user_id):
    ws, _ = await connect(api.ws, token(user_id))
    await ws.send('{"type":"ping"}')
    assert await recv_json(ws) == {"type": "pong"}
    await ws.close()


async def test_protocol_ping_is_answered(api, token, user_id):
    ws, _ = await connect(api.ws, token(user_id))
    latency = await asyncio.wait_for(await ws.ping(), 5)
    assert latency >= 0
    await ws.close()


@pytest.mark.parametrize(
    "payload, reason",
    [("not json", "not valid JSON"), ('{"type":"shout"}', "unknown message type"), ("[1,2]", "unknown message type")],
)
async def test_bad_inbound_message_closes_with_1008_and_a_reason(api, token, user_id, payload, reason):
    ws, _ = await connect(api.ws, token(user_id))
    await ws.send(payload)
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await recv_json(ws)
    assert closed.value.rcvd.code == 1008
    assert reason in closed.value.rcvd.reason


async def test_token_in_subprotocol_header_is_accepted(api, token, user_id):
    async with websockets.connect(api.ws, subprotocols=["bearer", token(user_id)]) as ws:
        assert ws.subprotocol == "bearer"
        hello = await recv_json(ws)
        assert hello["user_id"] == str(user_id)


async def test_origin_not_in_allowlist_is_refused(api, token, user_id):
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(f"{api.ws}?token={token(user_id)}", origin="https://evil.example")
    assert refused.value.response.status_code == 403


async def test_allowed_origin_is_accepted(api, token, user_id):
    async with websockets.connect(f"{api.ws}?token={token(user_id)}", origin="http://localhost:5173") as ws:
        assert (await recv_json(ws))["type"] == "connected"


async def test_service_token_cannot_open_a_signal_stream(api, service_token):
    ws = await websockets.connect(f"{api.ws}?token={service_token}")
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await recv_json(ws)
    assert closed.value.rcvd.code == 4401


async def test_resume_from_a_seq_the_server_never_issued_starts_live_and_says_not_recovered(
    api, database_url, token, user_id
):
    ws, hello = await connect(api.ws, token(user_id), since=500)
    assert hello["seq"] == 0
    assert await recv_json(ws) == {"type": "resumed", "recovered": False}
    await asyncio.to_thread(
        emit_in_subprocess, database_url,
        {"user_id": user_id, "signal_type": "status_update", "workflow_id": "w", "data": {"status": "started"}},
    )
    [signal] = await collect_signals(ws, 1)
    assert signal["seq"] == 1  # not skipped although 1 < 500
    await ws.close()


async def test_an_open_socket_keeps_no_copy_of_its_handshake_headers_or_token():
    """The handshake's headers and query string are read once, then dropped from the scope."""
    from types import SimpleNamespace

    from starlette.websockets import WebSocket

    from signalhub.api.ws import _handshake
    from signalhub.auth import TokenVerifier, mint_user_token
    from signalhub.settings import Settings

    settings = Settings(supabase_jwt_secret="s" * 32, database_url="postgresql://unused")
    user = uuid.uuid4()
    token = mint_user_token("s" * 32, user)
    running = SimpleNamespace(settings=settings, verifier=TokenVerifier.from_settings(settings), runtime=object())
    app = SimpleNamespace(state=SimpleNamespace(signalhub=running))
    scope = {
        "type": "websocket", "path": "/ws", "app": app, "query_string": f"token={token}&since=3".encode(),
        "headers": [(b"host", b"127.0.0.1"), (b"sec-websocket-protocol", b"json")],
    }
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "websocket.connect"}

    async def send(message: dict) -> None:
        sent.append(message)

    accepted = await _handshake(WebSocket(scope, receive, send))
    assert accepted is not None and accepted.user_id == user and accepted.since == 3
    assert sent[0]["type"] == "websocket.accept"
    assert scope["headers"] == [] and scope["query_string"] == b""
    assert token.encode() not in repr(scope).encode()
