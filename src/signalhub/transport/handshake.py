"""The opening handshake between the websockets library and an ASGI app: the
scope an app receives, and the HTTP responses it may answer with. Pure: no I/O."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, MutableMapping
from typing import Any
from urllib.parse import unquote

from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from .server import ServerShared
from .socket import SOCKET_EXTENSION


def asgi_scope(request: Request, transport: asyncio.BaseTransport, server: ServerShared, socket: object) -> dict[str, Any]:
    """The ASGI `websocket` scope of `request`, offering `socket` under `SOCKET_EXTENSION`.

    The parser keeps the request object for the connection's life: its headers
    and query string (a token may be in either) are cleared here; the app has
    its own copy in the scope."""
    raw_path, _, query = request.path.partition("?")
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in request.headers.raw_items()]
    subprotocols = [p.strip() for h in request.headers.get_all("Sec-WebSocket-Protocol") for p in h.split(",")]
    request.headers.clear()
    request.path = raw_path
    peer = transport.get_extra_info("peername")
    local = transport.get_extra_info("sockname")
    return {
        "type": "websocket",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "scheme": "wss" if transport.get_extra_info("sslcontext") else "ws",
        "server": tuple(local[:2]) if isinstance(local, tuple) else None,
        "client": tuple(peer[:2]) if isinstance(peer, tuple) else None,
        "root_path": server.root_path,
        "path": server.root_path + unquote(raw_path),
        "raw_path": (server.root_path + raw_path).encode("latin-1"),
        "query_string": query.encode("latin-1"),
        "headers": headers,
        "subprotocols": subprotocols,
        "state": server.app_state.copy(),
        "extensions": {"websocket.http.response": {}, SOCKET_EXTENSION: socket},
    }


def accept_response(
    response: Response, default_headers: Iterable[tuple[bytes, bytes]], message: MutableMapping[str, Any]
) -> Response:
    """The library's 101 response with the server's default headers (Date, Server)
    and what the app's `websocket.accept` adds (headers, the chosen subprotocol)."""
    headers = response.headers
    for raw_name, raw_value in (*default_headers, *message.get("headers", ())):
        name = raw_name.decode("latin-1")
        if name in headers:  # the library's own Date
            del headers[name]
        headers[name] = raw_value.decode("latin-1")
    if message.get("subprotocol"):
        headers["Sec-WebSocket-Protocol"] = message["subprotocol"]
    return response


def http_response(status: int, raw_headers: Iterable[tuple[bytes, bytes]], body: bytes) -> Response:
    """An app's own answer to the handshake (ASGI `websocket.http.response`)."""
    headers = Headers((k.decode("latin-1"), v.decode("latin-1")) for k, v in raw_headers)
    headers.setdefault("Connection", "close")
    headers.setdefault("Content-Length", str(len(body)))
    return Response(status, "", headers, body)
