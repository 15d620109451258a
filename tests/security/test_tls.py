"""Encryption in transit: `signalhub api` serves https:// and wss:// with a certificate.

A self-signed certificate is made for 127.0.0.1; clients trust it through an
SSLContext. Plain http:// and ws:// to the same port get no answer, and a
client that does not trust the certificate cannot connect.
"""

from __future__ import annotations

import ssl
import uuid

import httpx
import pytest
import websockets

from tests.security.servers import self_signed_certificate
from tests.support import ApiProcess, recv_json


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def trusted(certificate) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(certificate[0]))
    return context


@pytest.fixture(scope="module")
def tls_api(database_url, certificate, trusted, tmp_path_factory):
    certfile, keyfile = certificate
    server = ApiProcess(
        database_url, tmp_path_factory.mktemp("tls-api"),
        "--ssl-certfile", str(certfile), "--ssl-keyfile", str(keyfile),
        ssl_context=trusted,
    ).start()
    yield server
    server.stop()


async def test_https_and_wss_work_with_a_trusted_certificate(tls_api, trusted, token):
    user = uuid.uuid4()
    assert tls_api.base.startswith("https://") and tls_api.ws.startswith("wss://")
    async with httpx.AsyncClient(base_url=tls_api.base, verify=trusted, timeout=10) as http:
        response = await http.get("/api/v1/inbox/signals/unread-count", headers={"Authorization": f"Bearer {token(user)}"})
    assert response.json() == {"unread_count": 0}
    async with websockets.connect(f"{tls_api.ws}?token={token(user)}", ssl=trusted, open_timeout=10) as ws:
        assert (await recv_json(ws, 10))["user_id"] == str(user)
        await ws.send('{"type":"ping"}')
        assert await recv_json(ws, 10) == {"type": "pong"}


async def test_plain_http_to_the_tls_port_gets_no_answer(tls_api):
    plain = tls_api.base.replace("https://", "http://")
    async with httpx.AsyncClient(timeout=10) as http:
        with pytest.raises(httpx.TransportError):
            await http.get(f"{plain}/healthz")


async def test_plain_ws_to_the_tls_port_cannot_connect(tls_api, token):
    plain = tls_api.ws.replace("wss://", "ws://")
    with pytest.raises((websockets.InvalidMessage, websockets.InvalidHandshake, OSError, EOFError)):
        await websockets.connect(f"{plain}?token={token(uuid.uuid4())}", open_timeout=10)


async def test_client_that_does_not_trust_the_certificate_is_refused(tls_api, token):
    with pytest.raises(ssl.SSLCertVerificationError):
        await websockets.connect(f"{tls_api.ws}?token={token(uuid.uuid4())}", ssl=ssl.create_default_context(), open_timeout=10)


async def test_certificate_and_key_can_come_from_the_environment(database_url, certificate, trusted, tmp_path):
    certfile, keyfile = certificate
    server = ApiProcess(
        database_url, tmp_path, ssl_context=trusted,
        SIGNALHUB_SSL_CERTFILE=str(certfile), SIGNALHUB_SSL_KEYFILE=str(keyfile),
    ).start()  # healthy means /healthz answered over https with the trusted certificate
    try:
        async with httpx.AsyncClient(verify=trusted, timeout=10) as http:
            assert (await http.get(f"{server.base}/healthz")).status_code == 200
    finally:
        server.stop()
