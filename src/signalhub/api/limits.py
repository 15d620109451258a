"""Request body size limit (pure ASGI middleware): 413 before a large body is read.

Guarantees:
- a request whose `Content-Length` exceeds the limit for its path is answered
  413 at once; its body is never read;
- a body without `Content-Length` (chunked) is counted while the app reads
  it, and the read fails with 413 as soon as the count passes the limit, so
  at most one limit's worth of bytes (plus one chunk) is ever buffered;
- the limit is `default_limit` unless the path starts with one of the
  `per_path` prefixes (longest prefix wins): uploads get their own, larger
  limit and the route behind it enforces its exact size itself.
WebSocket traffic is untouched: its inbound frames are bounded by uvicorn's
`ws_max_size` (close 1009).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DOCUMENTS_PATH = "/api/v1/documents"
# Multipart framing around a 10 MiB file: the route checks the file's own size.
DOCUMENT_UPLOAD_LIMIT = 10 * 1024 * 1024 + 64 * 1024


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, detail=f"request body too large (limit {limit} bytes)")


class BodySizeLimit:
    def __init__(self, app: ASGIApp, *, default_limit: int, per_path: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.default_limit = default_limit
        # Longest prefix first, so "/a/b" wins over "/a".
        self.per_path = sorted((per_path or {}).items(), key=lambda item: -len(item[0]))

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.per_path:
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return limit
        return self.default_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(send, limit)
            return

        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # An HTTPException: FastAPI's handlers answer it 413 wherever the body is read.
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await _refuse(send, limit)


def _content_length(scope: Scope) -> int | None:
    """The declared length; an unparsable one counts as too large (refused, not guessed)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() and len(value) <= 18 else 2**63
    return None


async def _refuse(send: Send, limit: int) -> None:
    body = json.dumps({"detail": f"request body too large (limit {limit} bytes)"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
