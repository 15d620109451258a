"""The hostile run's input cases against a real `signalhub api`, over real sockets.

Each one used to end in a 500, a dropped socket with no close frame, a
connection held forever, or a token or traceback in the log; each now has its
documented answer (docs/security.md). Black-box: nothing here depends on which
WebSocket implementation serves `/ws`.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid

import httpx
import jwt
import pytest
import websockets
from websockets.sync.client import connect as sync_connect

from tests.support import SECRET, ApiProcess, connect, recv_json

HEAD_TIMEOUT = 1.5
METRICS_TOKEN = "metrics-secret-for-tests"


@pytest.fixture(scope="module")
def hostile_api(database_url, tmp_path_factory):
    server = ApiProcess(
        database_url,
        tmp_path_factory.mktemp("hostile"),
        SIGNALHUB_REQUEST_HEAD_TIMEOUT=str(HEAD_TIMEOUT),
        SIGNALHUB_METRICS_TOKEN=METRICS_TOKEN,
    ).start()
    yield server
    server.stop()


async def close_of(ws, timeout: float = 10.0):
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await recv_json(ws, timeout)
    assert closed.value.rcvd is not None, "dropped without a close frame"
    return closed.value.rcvd


def raw_exchange(port: int, request: bytes, timeout: float = 10.0) -> bytes:
    """Send `request` on a plain TCP connection and read until the server closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def ws_handshake(path: str, *extra_headers: str) -> bytes:
    lines = [
        f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "Upgrade: websocket", "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13", *extra_headers,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


# -- 5. `since` accepts ASCII digits only ------------------------------------------------


@pytest.mark.parametrize("since", ["²", "١٢", "１", "1²", "٣"])
async def test_since_in_unicode_digits_is_closed_1008_not_dropped_or_read_as_a_number(hostile_api, token, since):
    ws = await websockets.connect(f"{hostile_api.ws}?token={token(uuid.uuid4())}&since={since}", open_timeout=10)
    close = await close_of(ws)
    assert close.code == 1008 and "since" in close.reason


@pytest.mark.parametrize("since", ["²", "١٢", "１", " 1", "+1", "1e3"])
async def test_resume_with_since_in_unicode_digits_is_closed_1008(hostile_api, token, since):
    ws, _ = await connect(hostile_api.ws, token(uuid.uuid4()))
    await ws.send(json.dumps({"type": "resume", "since": since}))
    close = await close_of(ws)
    assert close.code == 1008 and "since" in close.reason


# -- 6. since/until near the datetime limits ---------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        {"since": "0001-01-01T00:00:00+14:00"},
        {"until": "9999-12-31T23:59:59-14:00"},
        {"since": "0001-01-01T00:00:00+23:59"},
        {"until": "9999-12-31T23:59:59.999999-00:01"},
    ],
)
async def test_since_and_until_past_the_datetime_range_once_in_utc_answer_422(hostile_api, token, query):
    headers = {"Authorization": f"Bearer {token(uuid.uuid4())}"}
    async with httpx.AsyncClient(base_url=hostile_api.base, headers=headers, timeout=10) as http:
        response = await http.get("/api/v1/inbox/signals", params=query)
    assert response.status_code == 422, response.text
    assert "out of range" in response.text


async def test_since_and_until_at_the_datetime_limits_in_utc_still_work(hostile_api, token):
    headers = {"Authorization": f"Bearer {token(uuid.uuid4())}"}
    async with httpx.AsyncClient(base_url=hostile_api.base, headers=headers, timeout=10) as http:
        response = await http.get(
            "/api/v1/inbox/signals", params={"since": "0001-01-01T00:00:00Z", "until": "9999-12-31T23:59:59Z"}
        )
    assert response.status_code == 200


# -- 2. deeply nested data ---------------------------------------------------------------


def _nested(depth: int) -> dict:
    value: dict = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


@pytest.mark.parametrize("depth", [33, 256, 900])
async def test_data_nested_past_the_limit_is_refused_at_emit_with_422(hostile_api, service_token, depth):
    body = {"user_id": str(uuid.uuid4()), "signal_type": "completion", "workflow_id": "deep", "data": _nested(depth)}
    async with httpx.AsyncClient(base_url=hostile_api.base, timeout=10) as http:
        response = await http.post(
            "/api/v1/signals",
            content=json.dumps(body),  # httpx's json= would refuse to encode this deep itself
            headers={"Authorization": f"Bearer {service_token}", "Content-Type": "application/json"},
        )
    assert response.status_code == 422, response.text[:300]
    assert "nested deeper than 32 levels" in response.text


async def test_data_nested_to_the_limit_is_stored_and_served(hostile_api, service_token, token):
    user = uuid.uuid4()
    body = {"user_id": str(user), "signal_type": "completion", "workflow_id": "deep-ok", "data": _nested(32)}
    async with httpx.AsyncClient(base_url=hostile_api.base, timeout=10) as http:
        stored = await http.post("/api/v1/signals", json=body, headers={"Authorization": f"Bearer {service_token}"})
        assert stored.status_code == 201
        page = await http.get("/api/v1/inbox/signals", headers={"Authorization": f"Bearer {token(user)}"})
    assert page.status_code == 200 and page.json()["signals"][0]["data"] == _nested(32)


async def test_rows_stored_deeper_than_the_limit_before_it_existed_do_not_break_the_inbox(hostile_api, store, token):
    user = uuid.uuid4()
    for seq, depth in ((1, 300), (2, 3000)):  # the second is deeper than Python's JSON parser recurses
        text = '{"a":' * depth + "1" + "}" * depth
        await store.pool.execute(
            "INSERT INTO workflow_signals (user_id, seq, workflow_id, signal_type, data) "
            "VALUES ($1, $2, 'old-deep', 'completion', $3::text::jsonb)",
            user, seq, text,
        )
    await store.pool.execute("INSERT INTO workflow_signals (user_id, seq, workflow_id, signal_type, data) "
                             "VALUES ($1, 3, 'fine', 'completion', '{\"ok\": true}')", user)
    async with httpx.AsyncClient(base_url=hostile_api.base, timeout=10) as http:
        page = await http.get("/api/v1/inbox/signals", headers={"Authorization": f"Bearer {token(user)}"})
    assert page.status_code == 200, page.text[:300]
    by_seq = {s["seq"]: s["data"] for s in page.json()["signals"]}
    assert by_seq[3] == {"ok": True}
    assert set(by_seq[1]) == set(by_seq[2]) == {"signalhub_unservable"}

    # A replay reads the same rows: it delivers all three (no 1011 close, no reconnect loop).
    ws, _ = await connect(hostile_api.ws, token(user), since=0)
    replayed = [await recv_json(ws) for _ in range(4)]
    assert [m.get("seq") for m in replayed[:3]] == [1, 2, 3]
    assert replayed[3] == {"type": "resumed", "recovered": True}
    assert set(replayed[0]["data"]) == {"signalhub_unservable"}
    await ws.close()


# -- 3. request-head timeout ---------------------------------------------------------------


def _metric(base: str, name: str) -> float:
    text = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10).text
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_a_request_head_sent_one_byte_at_a_time_is_cut_off_with_408_and_counted(hostile_api):
    before = _metric(hostile_api.base, "signalhub_request_head_timeouts_total")
    head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100
    started = time.monotonic()
    answer = b""
    with socket.create_connection(("127.0.0.1", hostile_api.port), timeout=10) as sock:
        sock.settimeout(0.3)
        for byte in head:  # one byte every 0.1 s: would take 14 s
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break
            try:
                chunk = sock.recv(4096)
            except TimeoutError:
                continue
            if not chunk:
                break
            answer += chunk
            if time.monotonic() - started > 8:
                break
    elapsed = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
    assert elapsed < HEAD_TIMEOUT + 3
    assert _metric(hostile_api.base, "signalhub_request_head_timeouts_total") >= before + 1


def test_a_connection_that_never_sends_a_head_is_closed_too(hostile_api):
    with socket.create_connection(("127.0.0.1", hostile_api.port), timeout=HEAD_TIMEOUT + 5) as sock:
        started = time.monotonic()
        answer = sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 408")
        assert time.monotonic() - started < HEAD_TIMEOUT + 3


def test_many_half_sent_requests_are_all_closed(hostile_api):
    sockets = [socket.create_connection(("127.0.0.1", hostile_api.port), timeout=10) for _ in range(50)]
    try:
        for sock in sockets:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        time.sleep(HEAD_TIMEOUT + 1)
        for sock in sockets:
            assert sock.recv(4096).startswith(b"HTTP/1.1 408")
    finally:
        for sock in sockets:
            sock.close()


def test_a_kept_alive_connection_serves_request_after_request(hostile_api):
    with httpx.Client(base_url=hostile_api.base, timeout=10) as http:
        for _ in range(3):
            assert http.get("/healthz").status_code == 200
            assert http.post("/api/v1/signals", content=b"{}" * 100).status_code == 401
            time.sleep(HEAD_TIMEOUT / 2)  # idle between requests is not a slow head


# -- 4. request line and header lines over 8 KiB ---------------------------------------


def test_a_websocket_handshake_with_a_url_over_8_kib_is_answered_414(hostile_api):
    answer = raw_exchange(hostile_api.port, ws_handshake("/ws?token=" + "a" * 9000))
    assert answer.startswith(b"HTTP/1.1 414"), answer[:100]


def test_a_websocket_handshake_with_a_header_line_over_8_kib_is_answered_431(hostile_api):
    answer = raw_exchange(hostile_api.port, ws_handshake("/ws", "Sec-WebSocket-Protocol: bearer, " + "a" * 9000))
    assert answer.startswith(b"HTTP/1.1 431"), answer[:100]


def test_a_handshake_with_too_many_headers_is_answered_431(hostile_api):
    answer = raw_exchange(hostile_api.port, ws_handshake("/ws", *(f"X-H{i}: v" for i in range(150))))
    assert answer.startswith(b"HTTP/1.1 431"), answer[:100]


async def test_a_rest_request_with_a_token_over_8_kib_gets_431_like_the_websocket(hostile_api):
    big = jwt.encode({"sub": str(uuid.uuid4()), "aud": "authenticated", "exp": int(time.time()) + 600,
                      "pad": "x" * 9000}, SECRET, algorithm="HS256")
    async with httpx.AsyncClient(base_url=hostile_api.base, timeout=10) as http:
        response = await http.get("/api/v1/inbox/signals", headers={"Authorization": f"Bearer {big}"})
    assert response.status_code == 431


async def test_a_token_of_7_kib_still_works_over_websocket_and_rest(hostile_api):
    user = uuid.uuid4()
    big = jwt.encode({"sub": str(user), "aud": "authenticated", "exp": int(time.time()) + 600,
                      "pad": "x" * 5000}, SECRET, algorithm="HS256")
    assert 6000 < len(big) < 8000
    async with websockets.connect(hostile_api.ws, subprotocols=["bearer", big], open_timeout=10) as ws:
        assert (await recv_json(ws))["user_id"] == str(user)
    async with httpx.AsyncClient(base_url=hostile_api.base, timeout=10) as http:
        response = await http.get("/api/v1/inbox/signals", headers={"Authorization": f"Bearer {big}"})
    assert response.status_code == 200


# -- 9. exp as a numeric string ------------------------------------------------------------


async def test_a_numeric_string_exp_is_refused(hostile_api):
    claims = {"sub": str(uuid.uuid4()), "aud": "authenticated", "exp": str(int(time.time()) + 600)}
    token = jwt.encode(claims, SECRET, algorithm="HS256")
    async with httpx.AsyncClient(base_url=hostile_api.base, timeout=10) as http:
        response = await http.get("/api/v1/inbox/signals", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401 and "NumericDate" in response.json()["detail"]
    ws = await websockets.connect(f"{hostile_api.ws}?token={token}", open_timeout=10)
    assert (await close_of(ws)).code == 4401


# -- 7 and 8. the log ---------------------------------------------------------------------------


def test_invalid_utf8_frames_log_at_most_one_line_and_no_traceback(hostile_api, token):
    started = time.monotonic()
    for _ in range(20):
        with sync_connect(f"{hostile_api.ws}?token={token(uuid.uuid4())}", open_timeout=10) as ws:
            ws.recv(timeout=10)
            ws.send(b"\xc3\x28", text=True)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                ws.recv(timeout=10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1007
    windows = int((time.monotonic() - started) // 10) + 1  # one line per 10 s at most
    log = hostile_api.log()
    utf8_lines = [line for line in log.splitlines() if "utf-8" in line.lower()]
    assert len(utf8_lines) <= windows + 1, utf8_lines  # (any transport: none at all is fine too)
    assert "Traceback" not in log and "UnicodeDecodeError: " not in log


async def test_a_token_whose_header_does_not_start_with_eyj_is_redacted_in_path_and_jwt_query(hostile_api):
    import base64

    header = base64.urlsafe_b64encode(b' {"alg":"HS256","typ":"JWT"}').decode().rstrip("=")
    claims = {"sub": str(uuid.uuid4()), "aud": "authenticated", "exp": int(time.time()) + 600}
    real = jwt.encode(claims, SECRET, algorithm="HS256")
    token = header + "." + real.split(".", 1)[1]
    assert not token.startswith("eyJ")
    signature = token.rsplit(".", 1)[1]
    async with httpx.AsyncClient(base_url=hostile_api.base, timeout=10) as http:
        await http.get(f"/api/v1/inbox/{token}")
        await http.get(f"/api/v1/inbox/signals?jwt={token}")
    ws = await websockets.connect(f"{hostile_api.ws}?jwt={token}", open_timeout=10)
    await close_of(ws)
    await asyncio.sleep(0.3)
    log = hostile_api.log()
    assert "/api/v1/inbox/[redacted]" in log and "signals?jwt=[redacted]" in log  # not vacuous
    assert signature not in log and token not in log


# -- /metrics and the probes ------------------------------------------------------------------


def test_metrics_need_the_configured_bearer_token(hostile_api):
    assert httpx.get(f"{hostile_api.base}/metrics", timeout=10).status_code == 401
    wrong = httpx.get(f"{hostile_api.base}/metrics", headers={"Authorization": "Bearer nope"}, timeout=10)
    assert wrong.status_code == 401
    right = httpx.get(f"{hostile_api.base}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10)
    assert right.status_code == 200 and "signalhub_request_head_timeouts_total" in right.text


def test_liveness_and_readiness_answer_separately(hostile_api):
    live = httpx.get(f"{hostile_api.base}/healthz", timeout=10)
    ready = httpx.get(f"{hostile_api.base}/readyz", timeout=10)
    assert live.json() == {"status": "ok", "broker": "connected"}
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "database": "ok", "broker": "connected", "shutdown": "no"}
