"""The ASGI bypass: one WebSocket path served by its endpoint directly, everything
else by the application.

Why: a framework's router, dependency machinery and middleware keep their
per-request frames alive for a WebSocket's whole life (FastAPI's: ~12 KB per
idle socket, docs/performance.md). An endpoint that checks its own input
(Origin, token, query) needs none of them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class WebSocketBypass:
    """ASGI app: a WebSocket handshake for `path` goes to `endpoint(scope, receive, send)`,
    with `scope["app"]` set to `app` (where the endpoint finds its state); anything
    else (HTTP, lifespan, other paths) goes to `app` unchanged.

    Guarantees: the endpoint's coroutine is returned, not awaited, so no frame of
    this wrapper stays suspended for the socket's life.
    """

    __slots__ = ("app", "path", "endpoint")

    def __init__(self, app: AsgiApp, path: str, endpoint: AsgiApp) -> None:
        self.app = app
        self.path = path
        self.endpoint = endpoint

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        if scope["type"] == "websocket" and scope["path"] == self.path:
            scope["app"] = self.app
            return self.endpoint(scope, receive, send)
        return self.app(scope, receive, send)

    def __getattr__(self, name: str) -> Any:
        # Servers and tests read attributes of the app they were given (e.g. `state`).
        if name in self.__slots__:
            raise AttributeError(name)
        return getattr(self.app, name)


class AwaitingWebSocketBypass(WebSocketBypass):
    """`WebSocketBypass` whose `__call__` is a coroutine function, so that any ASGI
    server (uvicorn's `interface="auto"`, Hypercorn, …) recognises it as ASGI 3.
    It keeps one small frame suspended per socket; `signalhub api` and
    `SignalHub.serve` serve the plain `WebSocketBypass` with `interface="asgi3"`."""

    __slots__ = ()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await WebSocketBypass.__call__(self, scope, receive, send)
