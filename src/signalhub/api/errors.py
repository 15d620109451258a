"""Clear answers when a dependency is down: 503 with a reason, never a bare 500.

`ServiceUnavailable` is where `signalhub api` turns an outage into an answer:
whatever raised it (asyncpg, the OS, a broker client, through the store, the
document store or a dependency), if `faults.is_unavailable` says it is an
outage, and no response has started, the client gets 503 + `Retry-After`.
Anything else goes on to the server's 500 handling unchanged.

`outages_answer_503` gives signalhub's own HTTP routes the same answer in an
app that embeds them (`SignalHub.router`), where no middleware of signalhub's
is installed: a dependency on those routes only, never on the host's.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI, HTTPException
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..faults import is_unavailable
from ..logs import RateLimitedLog

log = logging.getLogger(__name__)
_outage_log = RateLimitedLog(log, interval=10.0)

UNAVAILABLE_DETAIL = "database unavailable; try again shortly"
UNAVAILABLE_BODY = json.dumps({"detail": UNAVAILABLE_DETAIL}).encode()
RETRY_AFTER_SECONDS = 2


class ServiceUnavailable:
    """Pure ASGI middleware: an outage raised while handling an HTTP request is a 503."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started or not is_unavailable(exc):
                raise
            _outage_log.warning(
                "dependency unavailable during %s %s: %s", scope["method"], scope["path"], _describe(exc)
            )
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(UNAVAILABLE_BODY)).encode()),
                        (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": UNAVAILABLE_BODY})


async def outages_answer_503(request: Request) -> AsyncIterator[None]:
    """A route dependency (with yield: the route's exception comes back here): an outage
    while handling the request is the same 503 + `Retry-After` as `ServiceUnavailable` gives."""
    try:
        yield
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        _outage_log.warning(
            "dependency unavailable during %s %s: %s", request.method, request.url.path, _describe(exc)
        )
        raise HTTPException(
            503, detail=UNAVAILABLE_DETAIL, headers={"Retry-After": str(RETRY_AFTER_SECONDS)}
        ) from exc


def _describe(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None) or exc.__cause__
    return f"{type(exc).__name__}" + (f" ({type(cause).__name__})" if cause is not None else "")


async def _invalid_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)  # registered for it only
    # FastAPI's own handler echoes the offending input; a lone surrogate or
    # non-UTF-8 bytes in it cannot be encoded, which turned a 422 into a 500.
    detail = jsonable_encoder(exc.errors(), custom_encoder={bytes: lambda b: b.decode("utf-8", "replace")})
    return Response(json.dumps({"detail": detail}), status_code=422, media_type="application/json")


def install(app: FastAPI) -> None:
    """Add the 503 mapping (innermost middleware: CORS and the body limit wrap it) and the 422 handler."""
    # Appended, not added: `add_middleware` puts a middleware outermost, and this one must
    # sit inside CORS (a 503 still carries CORS headers) whenever install() is called.
    app.user_middleware.append(Middleware(ServiceUnavailable))
    app.add_exception_handler(RequestValidationError, _invalid_request)
