"""Cross-Site WebSocket Hijacking and CORS: one allowlist (WEBSOCKET_CORS_ORIGINS) for both.

A page on another site can make the browser open a WebSocket to us (browsers
do not apply CORS to WebSockets) with whatever token it has stolen or the
browser attaches; the only thing it cannot forge is the `Origin` header.
"""

from __future__ import annotations

import uuid

import httpx
import pytest
import websockets

from tests.support import ApiProcess, recv_json

ALLOWED = ("https://app.example", "https://admin.example")
HOSTILE = (
    "https://evil.example",
    "null",  # sandboxed iframes and file:// pages
    "https://app.example.evil.example",  # allowed origin as a prefix
    "http://app.example",  # scheme differs
    "https://app.example:8443",  # port differs
    "http://localhost:5173",  # a default origin, not in this deployment's list
)


@pytest.fixture(scope="module")
def api_with_origins(database_url, tmp_path_factory):
    server = ApiProcess(
        database_url, tmp_path_factory.mktemp("origins"), WEBSOCKET_CORS_ORIGINS=",".join(ALLOWED) + ","
    ).start()
    yield server
    server.stop()


@pytest.mark.parametrize("origin", HOSTILE)
async def test_websocket_handshake_from_a_foreign_origin_is_refused_with_403(api_with_origins, token, origin):
    user_token = token(uuid.uuid4())
    for connect in (
        dict(uri=f"{api_with_origins.ws}?token={user_token}"),
        dict(uri=api_with_origins.ws, subprotocols=["bearer", user_token]),
    ):
        with pytest.raises(websockets.InvalidStatus) as refused:
            await websockets.connect(origin=origin, open_timeout=10, **connect)
        assert refused.value.response.status_code == 403


@pytest.mark.parametrize("origin", ALLOWED)
async def test_websocket_handshake_from_an_allowed_origin_is_accepted(api_with_origins, token, origin):
    user = uuid.uuid4()
    async with websockets.connect(f"{api_with_origins.ws}?token={token(user)}", origin=origin, open_timeout=10) as ws:
        assert (await recv_json(ws, 10))["user_id"] == str(user)


async def test_websocket_without_origin_is_a_non_browser_client_and_is_accepted(api_with_origins, token):
    async with websockets.connect(f"{api_with_origins.ws}?token={token(uuid.uuid4())}", open_timeout=10) as ws:
        assert (await recv_json(ws, 10))["type"] == "connected"


def preflight(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization",
    }


@pytest.mark.parametrize("origin", ALLOWED)
async def test_rest_preflight_from_an_allowed_origin_gets_cors_headers(api_with_origins, origin):
    async with httpx.AsyncClient(base_url=api_with_origins.base, timeout=10) as http:
        response = await http.options("/api/v1/inbox/signals", headers=preflight(origin))
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == origin
    assert "authorization" in response.headers["access-control-allow-headers"].lower()


@pytest.mark.parametrize("origin", HOSTILE)
async def test_rest_preflight_from_a_foreign_origin_gets_no_cors_headers(api_with_origins, origin):
    async with httpx.AsyncClient(base_url=api_with_origins.base, timeout=10) as http:
        response = await http.options("/api/v1/inbox/signals", headers=preflight(origin))
    assert "access-control-allow-origin" not in response.headers
    assert response.status_code >= 400


async def test_rest_response_is_readable_only_by_allowed_origins(api_with_origins, token):
    headers = {"Authorization": f"Bearer {token(uuid.uuid4())}"}
    async with httpx.AsyncClient(base_url=api_with_origins.base, timeout=10, headers=headers) as http:
        allowed = await http.get("/api/v1/inbox/signals/unread-count", headers={"Origin": ALLOWED[0]})
        foreign = await http.get("/api/v1/inbox/signals/unread-count", headers={"Origin": HOSTILE[0]})
    assert allowed.headers["access-control-allow-origin"] == ALLOWED[0]
    assert "access-control-allow-origin" not in foreign.headers
    # Credentials are never allowed: tokens travel in headers the page must set itself.
    assert "access-control-allow-credentials" not in allowed.headers
