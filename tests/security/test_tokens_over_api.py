"""The token rules through a real `signalhub api` whose SUPABASE_URL serves a real JWKS.

The JWKS endpoint runs in this test process, so the requests the API makes to
it can be counted: the key set is fetched once and shared by WebSocket and
REST, and an unknown `kid` costs exactly one refresh.
"""

from __future__ import annotations

import uuid

import httpx
import jwt
import pytest
import websockets

from tests.security.servers import JwksServer, SigningKey, user_claims
from tests.security.test_tokens import hs256_by_hand
from tests.support import SECRET, ApiProcess, recv_json


@pytest.fixture(scope="module")
def keys() -> tuple[SigningKey, SigningKey]:
    return SigningKey("ec-api", "ES256"), SigningKey("rsa-api", "RS256")


@pytest.fixture(scope="module")
def jwks(keys):
    with JwksServer(list(keys)) as server:
        yield server


@pytest.fixture(scope="module")
def supabase_api(database_url, jwks, tmp_path_factory):
    server = ApiProcess(database_url, tmp_path_factory.mktemp("jwks-api"), SUPABASE_URL=jwks.base_url).start()
    yield server
    server.stop()


async def refused_on_ws(url: str, **connect) -> websockets.frames.Close:
    ws = await websockets.connect(url, open_timeout=10, **connect)
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await recv_json(ws, 10)
    return closed.value.rcvd


async def test_es256_and_rs256_tokens_work_on_websocket_and_rest_with_one_jwks_fetch(supabase_api, jwks, keys):
    ec_key, rsa_key = keys
    alice, bob = uuid.uuid4(), uuid.uuid4()
    alice_token = ec_key.sign(user_claims(str(alice), issuer=jwks.issuer))
    bob_token = rsa_key.sign(user_claims(str(bob), issuer=jwks.issuer))

    async with websockets.connect(f"{supabase_api.ws}?token={alice_token}", open_timeout=10) as ws:
        assert (await recv_json(ws, 10))["user_id"] == str(alice)
    async with websockets.connect(supabase_api.ws, subprotocols=["bearer", bob_token], open_timeout=10) as ws:
        assert ws.subprotocol == "bearer"
        assert (await recv_json(ws, 10))["user_id"] == str(bob)
    async with httpx.AsyncClient(base_url=supabase_api.base, timeout=10) as http:
        for token in (alice_token, bob_token):
            response = await http.get("/api/v1/inbox/signals/unread-count", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200, response.text
    assert jwks.requests == 1


async def test_unknown_kid_costs_the_jwks_endpoint_exactly_one_request(supabase_api, jwks, keys):
    ec_key, _ = keys
    async with httpx.AsyncClient(base_url=supabase_api.base, timeout=10) as http:
        # Warm the cache with a known key (no-op when the previous test ran).
        known = ec_key.sign(user_claims(str(uuid.uuid4()), issuer=jwks.issuer))
        assert (await http.get("/api/v1/inbox/signals/unread-count", headers={"Authorization": f"Bearer {known}"})).status_code == 200
        before = jwks.requests
        for n in range(4):
            forged = ec_key.sign(user_claims(str(uuid.uuid4()), issuer=jwks.issuer), kid=f"unknown-{n}")
            response = await http.get("/api/v1/inbox/signals", headers={"Authorization": f"Bearer {forged}"})
            assert response.status_code == 401
            assert "unknown" in response.json()["detail"]
    assert jwks.requests == before + 1


async def test_user_token_without_the_project_issuer_is_refused_on_both_paths(supabase_api, jwks, keys):
    ec_key, _ = keys
    user = str(uuid.uuid4())
    wrong = [
        ec_key.sign(user_claims(user, issuer="https://evil.example/auth/v1")),
        ec_key.sign(user_claims(user)),  # no iss at all
        jwt.encode(user_claims(user), SECRET, algorithm="HS256"),  # right secret, no iss
    ]
    async with httpx.AsyncClient(base_url=supabase_api.base, timeout=10) as http:
        for token in wrong:
            response = await http.get("/api/v1/inbox/signals", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 401
            assert "issuer" in response.json()["detail"]
            close = await refused_on_ws(f"{supabase_api.ws}?token={token}")
            assert close.code == 4401 and "issuer" in close.reason
        good_hs = jwt.encode(user_claims(user, issuer=jwks.issuer), SECRET, algorithm="HS256")
        assert (await http.get("/api/v1/inbox/signals", headers={"Authorization": f"Bearer {good_hs}"})).status_code == 200


async def test_hs256_token_signed_with_the_published_rsa_key_is_refused(supabase_api, jwks, keys):
    _, rsa_key = keys
    token = hs256_by_hand(user_claims(str(uuid.uuid4()), issuer=jwks.issuer), rsa_key.public_pem, kid=rsa_key.kid)
    async with httpx.AsyncClient(base_url=supabase_api.base, timeout=10) as http:
        response = await http.get("/api/v1/inbox/signals", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    close = await refused_on_ws(supabase_api.ws, subprotocols=["bearer", token])
    assert close.code == 4401


async def test_bad_token_in_the_subprotocol_header_is_refused_with_4401(supabase_api, jwks, keys):
    ec_key, _ = keys
    expired = ec_key.sign(user_claims(str(uuid.uuid4()), issuer=jwks.issuer, ttl=-3600))
    close = await refused_on_ws(supabase_api.ws, subprotocols=["bearer", expired])
    assert (close.code, close.reason) == (4401, "token has expired")
    not_yet = ec_key.sign(user_claims(str(uuid.uuid4()), issuer=jwks.issuer, nbf=2**31 - 1))
    close = await refused_on_ws(supabase_api.ws, subprotocols=["bearer", not_yet])
    assert (close.code, close.reason) == (4401, "token is not valid yet")
