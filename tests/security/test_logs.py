"""No token in any log line: a real `signalhub api` at debug level, its output captured.

Tokens are sent every way a client (or an attacker probing the logs) can send
them: `?token=`, a percent-encoded `?%74oken=`, `Sec-WebSocket-Protocol:
bearer, <JWT>`, `Authorization: Bearer`, inside a URL path, valid and invalid.
The log must show each of those requests (so the test is not vacuous) and
none of the tokens, nor any token's signature on its own.
"""

from __future__ import annotations

import time
import uuid

import httpx
import jwt
import pytest
import websockets
from hypothesis import given, settings
from hypothesis import strategies as st

from signalhub.logs import REDACTED, RedactingFormatter, RedactTokens, redact
from tests.support import SECRET, ApiProcess, recv_json


def _token(user: uuid.UUID, secret: str = SECRET, ttl: int = 600) -> str:
    now = int(time.time())
    claims = {"sub": str(user), "aud": "authenticated", "iat": now, "exp": now + ttl, "jti": uuid.uuid4().hex}
    return jwt.encode(claims, secret, algorithm="HS256")


async def test_no_token_reaches_the_logs_of_a_real_server(database_url, tmp_path):
    server = ApiProcess(database_url, tmp_path, LOG_LEVEL="debug").start()
    user = uuid.uuid4()
    tokens = {
        "query": _token(user),
        "encoded query": _token(user),
        "subprotocol": _token(user),
        "rest bearer": _token(user),
        "rest query": _token(user),
        "bad signature": _token(user, secret="wrong-secret-wrong-secret-wrong-secret-0123"),
        "expired": _token(user, ttl=-3600),
        "in path": _token(user),
        "bad subprotocol": _token(user, secret="another-wrong-secret-another-wrong-secret"),
    }
    try:
        async with websockets.connect(f"{server.ws}?token={tokens['query']}", open_timeout=10) as ws:
            await recv_json(ws, 10)
            await ws.send('{"type":"ping"}')
            assert await recv_json(ws, 10) == {"type": "pong"}
        encoded = "".join(f"%{ord(c):02X}" if i < 3 else c for i, c in enumerate(tokens["encoded query"]))
        async with websockets.connect(f"{server.ws}?%74oken={encoded}", open_timeout=10) as ws:
            assert (await recv_json(ws, 10))["user_id"] == str(user)  # the server did decode it
        async with websockets.connect(server.ws, subprotocols=["bearer", tokens["subprotocol"]], open_timeout=10) as ws:
            await recv_json(ws, 10)
        for kind in ("expired", "bad signature"):
            ws = await websockets.connect(f"{server.ws}?token={tokens[kind]}", open_timeout=10)
            with pytest.raises(websockets.ConnectionClosed):
                await recv_json(ws, 10)
        ws = await websockets.connect(server.ws, subprotocols=["bearer", tokens["bad subprotocol"]], open_timeout=10)
        with pytest.raises(websockets.ConnectionClosed):
            await recv_json(ws, 10)

        async with httpx.AsyncClient(base_url=server.base, timeout=10) as http:
            ok = await http.get("/api/v1/inbox/signals", headers={"Authorization": f"Bearer {tokens['rest bearer']}"})
            assert ok.status_code == 200
            bad = await http.get("/api/v1/inbox/signals", headers={"Authorization": f"Bearer {tokens['bad signature']}"})
            assert bad.status_code == 401
            bearer = {"Authorization": f"Bearer {tokens['rest bearer']}"}
            leaky = await http.get(f"/api/v1/inbox/signals?token={tokens['rest query']}", headers=bearer)
            assert leaky.status_code == 200
            in_path = await http.post(f"/api/v1/inbox/signals/{tokens['in path']}/read", headers=bearer)
            assert in_path.status_code == 422
    finally:
        server.stop()

    log = server.log()
    # Not vacuous: every one of those requests left its line.
    assert "WebSocket /ws?token=[redacted]" in log
    assert '"GET /api/v1/inbox/signals HTTP/1.1" 200' in log
    assert '"GET /api/v1/inbox/signals HTTP/1.1" 401' in log
    assert "/api/v1/inbox/signals?token=[redacted]" in log
    assert '/api/v1/inbox/signals/[redacted]/read HTTP/1.1" 422' in log
    assert log.count("WebSocket /ws") >= 6
    for kind, value in tokens.items():
        signature = value.rsplit(".", 1)[1]
        assert value not in log, f"{kind} token in the log"
        assert signature not in log, f"{kind} token's signature in the log"


def test_redaction_covers_tracebacks_and_structured_arguments():
    import io
    import logging

    token = _token(uuid.uuid4())
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactTokens())
    handler.setFormatter(RedactingFormatter("%(message)s"))
    logger = logging.getLogger("tests.security.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise ValueError(f"could not parse {token}")
        except ValueError:
            logger.exception("handshake failed for %s", {"authorization": f"Bearer {token}"})
        logger.warning("%(header)s", {"header": f"Sec-WebSocket-Protocol: bearer, {token}"})
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert "ValueError: could not parse [redacted]" in text
    assert "Bearer [redacted]" in text and "bearer, [redacted]" in text
    assert token.rsplit(".", 1)[1] not in text


@pytest.mark.parametrize(
    "line",
    [
        "GET /ws?token=abc.def.ghi&since=3",
        "GET /ws?access_token=opaque-secret-value",
        "GET /ws?%74oken=%65%79%4A0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
        "Authorization: Bearer opaque-secret-value",
    ],
)
def test_redact_hides_every_token_form(line):
    out = redact(line)
    assert "[redacted]" in out
    for secret in ("abc.def.ghi", "opaque-secret-value", "c2lnbmF0dXJl"):
        assert secret not in out


# -- redaction by shape, not by prefix -------------------------------------------------------

_json_whitespace = st.text(alphabet=" \t\r\n", max_size=3)
_claims = st.dictionaries(st.sampled_from(["sub", "aud", "exp", "role", "x"]), st.text(max_size=30) | st.integers(), max_size=5)


@settings(max_examples=200, deadline=None)
@given(
    claims=_claims,
    lead=_json_whitespace,
    encoding=st.sampled_from(["utf-8", "utf-16", "utf-32"]),
    place=st.sampled_from(["GET /ws/{} HTTP/1.1", "GET /x?jwt={}&a=1", "GET /x?y={}", "token {} failed", "{}"]),
)
def test_any_token_a_jwt_library_would_read_is_redacted_wherever_it_appears(claims, lead, encoding, place):
    import base64
    import json

    header = (lead + json.dumps({"alg": "HS256", "typ": "JWT"})).encode(encoding)
    segment = base64.urlsafe_b64encode(header).decode().rstrip("=")
    signed = jwt.encode(claims, SECRET, algorithm="HS256")
    token = segment + "." + signed.split(".", 1)[1]
    out = redact(place.format(token))
    assert REDACTED in out
    assert signed.rsplit(".", 1)[1] not in out


@pytest.mark.parametrize(
    "line",
    ["INFO signalhub.api.ws: started", "GET https://api.example.com/x", "version 1.2.3", "a.b.c", "uvicorn.error"],
)
def test_dotted_names_are_not_mistaken_for_tokens(line):
    assert redact(line) == line
