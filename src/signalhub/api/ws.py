"""`GET /ws`: the live signal stream of the token's user.

Handshake: `?token=JWT` or `Sec-WebSocket-Protocol: bearer, <JWT>`; optional
`?since=SEQ` to resume. Close codes: 1001 going away, 1008 bad inbound
message, 1009 message too big, 1013 connection limit, 4401 token invalid or
expired, 4408 too slow. See README.md and docs/delivery.md.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import NamedTuple

from fastapi import APIRouter, WebSocket
from starlette.datastructures import Headers, QueryParams
from starlette.types import Receive, Send
from starlette.websockets import WebSocketDisconnect

from ..auth import AuthError
from ..connection import (
    CLOSE_POLICY,
    CLOSE_TOKEN,
    CLOSE_TRY_AGAIN_LATER,
    Connection,
)
from ..faults import is_unavailable
from ..hub import LimitExceeded
from ..parsing import parse_seq
from ..wsprotocol import ABORT, WRITE_FRAME
from .deps import signalhub_of

log = logging.getLogger(__name__)
router = APIRouter()


def _token_from_handshake(headers: Headers, query: QueryParams) -> tuple[str | None, str | None]:
    """(token, subprotocol to echo). The subprotocol form keeps tokens out of URLs and logs."""
    protocols = [p.strip() for p in headers.get("sec-websocket-protocol", "").split(",") if p.strip()]
    if len(protocols) >= 2 and protocols[0].lower() == "bearer":
        return protocols[1], "bearer"
    return query.get("token"), None


class _RateLimit:
    """Token bucket: `rate` messages per second, bursts of up to 2 × rate."""

    __slots__ = ("rate", "capacity", "tokens", "stamp")

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.capacity = max(1.0, 2 * rate)
        self.tokens = self.capacity
        self.stamp = time.monotonic()

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class _AsgiSocket:
    """`connection.ClientSocket` over the ASGI send: what a Connection writes to."""

    __slots__ = ("_websocket", "_send", "write_frame", "abort")

    def __init__(self, websocket: WebSocket, asgi_send: Send | None) -> None:
        self._websocket = websocket
        # The server's own ASGI send skips Starlette's per-call state checks (docs/performance.md).
        self._send = asgi_send or websocket.send
        # Offered by signalhub's own uvicorn protocol (wsprotocol.py): pre-encoded frames, abort.
        extensions = websocket.scope.get("extensions") or {}
        self.write_frame = extensions.get(WRITE_FRAME)
        self.abort = extensions.get(ABORT)

    async def send_text(self, text: str) -> None:
        await self._send({"type": "websocket.send", "text": text})

    async def close(self, code: int, reason: str) -> None:
        await self._websocket.close(code=code, reason=reason)


class _Accepted(NamedTuple):
    user_id: uuid.UUID
    expires_at: float
    since: int | None


@router.websocket("/ws")
async def signal_stream_route(websocket: WebSocket) -> None:
    """`/ws` through FastAPI's router (`signalhub api` serves it via `DirectWebSocket`)."""
    await signal_stream(websocket)


async def signal_stream(websocket: WebSocket, asgi_send: Send | None = None, asgi_receive: Receive | None = None) -> None:
    """`asgi_send`/`asgi_receive`: the server's own ASGI callables (given by
    `DirectWebSocket`); once the socket is open, messages go straight through
    them instead of through Starlette's `WebSocket` methods."""
    accepted = await _handshake(websocket)
    if accepted is None:
        return
    signalhub = signalhub_of(websocket)
    settings, runtime, hub = signalhub.settings, signalhub.runtime, signalhub.connections
    conn = Connection(
        accepted.user_id,
        runtime.store,
        _AsgiSocket(websocket, asgi_send),
        queue_limit=settings.send_queue_limit,
        resume_limit=settings.resume_limit,
    )
    try:
        hub.add(conn)
    except LimitExceeded as exc:
        await websocket.close(code=CLOSE_TRY_AGAIN_LATER, reason=str(exc))
        return
    try:
        # Registered before reading the latest seq, so nothing committed after
        # this read can pass unseen (see docs/delivery.md).
        try:
            latest = await runtime.store.latest_seq(accepted.user_id)
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            await websocket.close(code=CLOSE_TRY_AGAIN_LATER, reason="database unavailable; retry shortly")
            return
        await websocket.send_text(
            json.dumps({"type": "connected", "user_id": str(accepted.user_id), "seq": latest})
        )
        # Closed when the token would no longer be accepted (its exp plus the leeway).
        conn.expire_at(accepted.expires_at + settings.jwt_leeway_seconds)
        since = accepted.since
        if since is not None and since > latest:
            # A position from another history (e.g. a restored database): start live
            # from now and tell the client to refetch rather than skip what comes.
            conn.start(latest, None)
            conn.send_control({"type": "resumed", "recovered": False})
        else:
            conn.start(latest if since is None else since, since)
        del accepted, since, latest
        await _receive_loop(asgi_receive or websocket.receive, conn, _RateLimit(settings.inbound_messages_per_second))
    except WebSocketDisconnect:
        pass
    finally:
        hub.remove(conn)
        await conn.stop()


async def _handshake(websocket: WebSocket) -> _Accepted | None:
    """Check Origin, accept, verify the token and read `since`; None when the
    socket was refused or closed (with its close code already sent).

    Headers and query string (which may hold the token) are read here once and
    then dropped from the scope: an open socket keeps no copy of its handshake
    (memory per idle socket, and no token lingering in memory)."""
    signalhub = signalhub_of(websocket)
    settings = signalhub.settings
    scope = websocket.scope
    headers = Headers(scope=scope)
    query = QueryParams(scope["query_string"])
    origin = headers.get("origin")
    if origin is not None and origin.rstrip("/") not in settings.cors_origins:
        # Cross-site WebSocket hijacking guard; non-browser clients send no Origin.
        await websocket.close(code=CLOSE_POLICY, reason="origin not allowed")  # -> HTTP 403
        return None

    token, subprotocol = _token_from_handshake(headers, query)
    await websocket.accept(subprotocol=subprotocol)
    scope["headers"] = []
    scope["query_string"] = b""
    try:
        principal = await signalhub.verifier.verify_async(token)  # a JWKS fetch must not block the loop
    except AuthError as exc:
        await websocket.close(code=CLOSE_TOKEN, reason=str(exc))
        return None
    if principal.user_id is None:
        await websocket.close(code=CLOSE_TOKEN, reason="a user token is required")
        return None

    since: int | None = None
    if "since" in query:
        since = parse_seq(query["since"])
        if since is None:
            await websocket.close(code=CLOSE_POLICY, reason="since must be a non-negative integer")
            return None
    return _Accepted(principal.user_id, principal.expires_at, since)


async def _receive_loop(receive: Receive, conn: Connection, limit: _RateLimit) -> None:
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if text is None:
            conn.request_close(CLOSE_POLICY, "binary frames are not accepted; send JSON text")
            return
        if not limit.allow():
            conn.request_close(CLOSE_POLICY, "too many messages; slow down")
            return
        try:
            body = json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser allows
            conn.request_close(CLOSE_POLICY, "message is not valid JSON")
            return
        kind = body.get("type") if isinstance(body, dict) else None
        if kind == "ping":
            conn.send_control({"type": "pong"})
        elif kind == "pong":
            continue
        elif kind == "resume":
            since = parse_seq(body.get("since"))
            if since is None:
                conn.request_close(CLOSE_POLICY, "resume.since must be a non-negative integer")
                return
            conn.resume(since)
        else:
            conn.request_close(CLOSE_POLICY, "unknown message type; expected ping or resume")
            return
