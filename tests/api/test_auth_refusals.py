"""Bad tokens are refused on both the WebSocket (4401) and REST (401)."""

from __future__ import annotations

import time
import uuid

import httpx
import jwt
import pytest
import websockets

from tests.support import SECRET, recv_json


def _claims(**over):
    now = int(time.time())
    claims = {"sub": str(uuid.uuid4()), "aud": "authenticated", "role": "authenticated", "iat": now, "exp": now + 600}
    claims.update(over)
    return {k: v for k, v in claims.items() if v is not None}


def _none_alg(claims) -> str:
    return jwt.encode(claims, None, algorithm="none")


BAD_TOKENS = {
    "bad signature": lambda: jwt.encode(_claims(), "another-secret-of-sufficient-length-0123456789", algorithm="HS256"),
    "expired": lambda: jwt.encode(_claims(exp=int(time.time()) - 3600), SECRET, algorithm="HS256"),
    "wrong aud": lambda: jwt.encode(_claims(aud="anon"), SECRET, algorithm="HS256"),
    "alg none": lambda: _none_alg(_claims()),
    "missing sub": lambda: jwt.encode(_claims(sub=None), SECRET, algorithm="HS256"),
    "non-uuid sub": lambda: jwt.encode(_claims(sub="test-user"), SECRET, algorithm="HS256"),
    "no exp": lambda: jwt.encode(_claims(exp=None), SECRET, algorithm="HS256"),
    "garbage": lambda: "not-a-jwt",
}


@pytest.mark.parametrize("kind", sorted(BAD_TOKENS))
async def test_websocket_refuses_bad_token_with_4401(api, kind):
    ws = await websockets.connect(f"{api.ws}?token={BAD_TOKENS[kind]()}")
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await recv_json(ws)
    assert closed.value.rcvd.code == 4401


async def test_websocket_without_token_is_refused_with_4401(api):
    ws = await websockets.connect(api.ws)
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await recv_json(ws)
    assert closed.value.rcvd.code == 4401
    assert "missing" in closed.value.rcvd.reason


@pytest.mark.parametrize("kind", sorted(BAD_TOKENS))
async def test_rest_refuses_bad_token_with_401(api, kind):
    async with httpx.AsyncClient(base_url=api.base) as http:
        response = await http.get(
            "/api/v1/inbox/signals", headers={"Authorization": f"Bearer {BAD_TOKENS[kind]()}"}
        )
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["detail"]


async def test_rest_without_token_is_401(api):
    async with httpx.AsyncClient(base_url=api.base) as http:
        assert (await http.get("/api/v1/inbox/signals/unread-count")).status_code == 401


async def test_user_token_cannot_use_service_endpoints(api, token):
    async with httpx.AsyncClient(base_url=api.base, headers={"Authorization": f"Bearer {token(uuid.uuid4())}"}) as http:
        assert (await http.get("/ws/status")).status_code == 403
        sent = await http.post("/ws/send-test", json={"user_id": str(uuid.uuid4()), "message": "x"})
        assert sent.status_code == 403
