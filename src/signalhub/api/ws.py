"""`GET /ws`: the live signal stream of the token's user.

Handshake: `?token=JWT` or `Sec-WebSocket-Protocol: bearer, <JWT>`; optional
`?since=SEQ` to resume; repeated `?workflow_id=` to follow only those
workflows (`subscribe`/`unsubscribe` messages change the set later; see
subscriptions.py and docs/protocol.md). Close codes: 1001 going away, 1008 bad inbound
message, 1009 message too big, 1013 connection limit, 4401 token invalid or
expired, 4408 too slow. See README.md and docs/delivery.md.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Awaitable
from typing import NamedTuple

from fastapi import APIRouter, WebSocket
from starlette.datastructures import Headers, QueryParams
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect

from .. import wire
from ..auth import AuthError
from ..connection import Connection
from ..faults import is_unavailable
from ..hub import LimitExceeded
from ..parsing import parse_seq
from ..subscriptions import SubscriptionError, WorkflowFilter, parse_workflow_ids
from ..transport import socket_for
from ..wire import CLOSE_POLICY, CLOSE_TOKEN, CLOSE_TRY_AGAIN_LATER
from .deps import connections_of, runtime_of, signalhub_of

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


class _Accepted(NamedTuple):
    user_id: uuid.UUID
    expires_at: float
    since: int | None
    workflows: WorkflowFilter | None


@router.websocket("/ws")
async def signal_stream_route(websocket: WebSocket) -> None:
    """`/ws` through FastAPI's router (`signalhub api` serves it via `transport.WebSocketBypass`)."""
    await _serve(websocket, websocket.receive, websocket.send)


def signal_stream(scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
    """`/ws` as a bare ASGI endpoint (for `transport.WebSocketBypass`; `scope["app"]`
    is the FastAPI app). A plain function returning the coroutine: no frame of
    its own stays suspended for the socket's life."""
    return _serve(WebSocket(scope, receive, send), receive, send)


async def _serve(websocket: WebSocket, receive: Receive, send: Send) -> None:
    """Once the socket is open, messages go straight through the server's `receive`
    and the socket (`transport.socket_for`), not through Starlette's `WebSocket`."""
    try:
        accepted = await _handshake(websocket)
    except WebSocketDisconnect:
        return  # the client left during the handshake
    if accepted is None:
        return
    settings, runtime, hub = signalhub_of(websocket).settings, runtime_of(websocket), connections_of(websocket)
    conn = Connection(
        accepted.user_id,
        runtime.store,
        socket_for(websocket.scope, send),
        queue_limit=settings.send_queue_limit,
        resume_limit=settings.resume_limit,
    )
    conn.workflows = accepted.workflows  # before it can receive anything
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
        await websocket.send_text(wire.connected(accepted.user_id, latest))
        # Closed when the token would no longer be accepted (its exp plus the leeway).
        conn.expire_at(accepted.expires_at + settings.jwt_leeway_seconds)
        since = accepted.since
        if since is not None and since > latest:
            # A position from another history (e.g. a restored database): start live
            # from now and tell the client to refetch rather than skip what comes.
            conn.start(latest, None)
            conn.send_control(wire.resumed(False))
        else:
            conn.start(latest if since is None else since, since)
        del accepted, since, latest
        limits = _Limits(_RateLimit(settings.inbound_messages_per_second), settings.max_subscriptions_per_socket)
        await _receive_loop(receive, conn, limits)
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
    workflows: WorkflowFilter | None = None
    if "workflow_id" in query:
        limit = settings.max_subscriptions_per_socket
        try:
            workflows = WorkflowFilter(limit, parse_workflow_ids(query.getlist("workflow_id"), limit, field="workflow_id"))
        except SubscriptionError as exc:
            await websocket.close(code=CLOSE_POLICY, reason=str(exc))
            return None
    return _Accepted(principal.user_id, principal.expires_at, since, workflows)


class _Limits(NamedTuple):
    rate: _RateLimit
    subscriptions: int


def _change_subscriptions(conn: Connection, kind: str, body: dict, limit: int) -> str | None:
    """Apply a subscribe/unsubscribe message and answer `subscribed`; the refusal reason otherwise."""
    try:
        ids = parse_workflow_ids(body.get("workflow_ids"), limit)
        if conn.workflows is None:
            conn.workflows = WorkflowFilter(limit)
        if kind == "subscribe":
            conn.workflows.subscribe(ids)
        else:
            conn.workflows.unsubscribe(ids)
    except SubscriptionError as exc:
        return f"{kind}: {exc}"
    conn.send_control(conn.workflows.answer())
    return None


async def _receive_loop(receive: Receive, conn: Connection, limits: _Limits) -> None:
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if text is None:
            conn.request_close(CLOSE_POLICY, "binary frames are not accepted; send JSON text")
            return
        if not limits.rate.allow():
            conn.request_close(CLOSE_POLICY, "too many messages; slow down")
            return
        try:
            body = json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser allows
            conn.request_close(CLOSE_POLICY, "message is not valid JSON")
            return
        kind = body.get("type") if isinstance(body, dict) else None
        if kind == "ping":
            conn.send_control(wire.PONG)
        elif kind == "pong":
            continue
        elif kind == "resume":
            since = parse_seq(body.get("since"))
            if since is None:
                conn.request_close(CLOSE_POLICY, "resume.since must be a non-negative integer")
                return
            conn.resume(since)
        elif kind in ("subscribe", "unsubscribe"):
            refusal = _change_subscriptions(conn, kind, body, limits.subscriptions)
            if refusal is not None:
                conn.request_close(CLOSE_POLICY, refusal)
                return
        else:
            conn.request_close(CLOSE_POLICY, "unknown message type; expected ping, resume, subscribe or unsubscribe")
            return
