"""Clear answers when a dependency is down: 503 with a reason, never a bare 500."""

from __future__ import annotations

import json
import logging

import asyncpg
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

log = logging.getLogger(__name__)

# What asyncpg raises when the server is gone, restarting or refusing connections.
DATABASE_DOWN = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.ConnectionDoesNotExistError,
)


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable during %s %s: %s", request.method, request.url.path, type(exc).__name__)
    return JSONResponse(
        {"detail": "database unavailable; try again shortly"},
        status_code=503,
        headers={"Retry-After": "2"},
    )


async def _invalid_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)  # registered for it only
    # FastAPI's own handler echoes the offending input; a lone surrogate or
    # non-UTF-8 bytes in it cannot be encoded, which turned a 422 into a 500.
    detail = jsonable_encoder(exc.errors(), custom_encoder={bytes: lambda b: b.decode("utf-8", "replace")})
    return Response(json.dumps({"detail": detail}), status_code=422, media_type="application/json")


def install(app: FastAPI) -> None:
    for exc_type in DATABASE_DOWN:
        app.add_exception_handler(exc_type, _database_unavailable)
    app.add_exception_handler(RequestValidationError, _invalid_request)
