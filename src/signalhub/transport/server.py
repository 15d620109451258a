"""What every socket of one server shares, and the errors and logs of the transport."""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any

log = logging.getLogger("signalhub.transport.protocol")


class SocketClosed(OSError):
    """A send on a WebSocket that is closing or closed (ASGI: "an IOError subclass")."""


class ClientErrorLog:
    """One log line per `interval` seconds for errors a client causes (bad UTF-8,
    broken frames): they are expected, and a client must not be able to flood the log."""

    def __init__(self, interval: float = 10.0) -> None:
        self.interval = interval
        self._next = 0.0
        self._suppressed = 0

    def warning(self, loop: asyncio.AbstractEventLoop, message: str, *args: object) -> None:
        now = loop.time()
        if now < self._next:
            self._suppressed += 1
            return
        self._next = now + self.interval
        if self._suppressed:
            message += " (%d similar since the last report)"
            args = (*args, self._suppressed)
            self._suppressed = 0
        log.warning(message, *args)


CLIENT_ERRORS = ClientErrorLog()


class ServerShared:
    """What every socket of one uvicorn server shares: read from uvicorn's public
    `Config` once, instead of a copy per socket."""

    __slots__ = ("app", "loop", "state", "root_path", "app_state", "max_size", "deflate",
                 "ping_interval", "ping_timeout", "__weakref__")

    def __init__(self, config: Any, server_state: Any, app_state: dict[str, Any]) -> None:
        if not config.loaded:
            config.load()
        self.app = config.loaded_app
        self.loop = asyncio.get_running_loop()
        self.state = server_state  # connections, tasks, default_headers (the date header is renewed)
        self.root_path: str = config.root_path or ""
        self.app_state = app_state
        self.max_size: int | None = config.ws_max_size
        self.deflate = bool(config.ws_per_message_deflate)
        self.ping_interval: float | None = config.ws_ping_interval
        self.ping_timeout: float | None = config.ws_ping_timeout


_servers: weakref.WeakKeyDictionary[Any, ServerShared] = weakref.WeakKeyDictionary()


def server_for(config: Any, server_state: Any, app_state: dict[str, Any]) -> ServerShared:
    """The one `ServerShared` of a uvicorn server (made by its first socket)."""
    server = _servers.get(server_state)
    if server is None or server.app_state is not app_state:
        server = _servers[server_state] = ServerShared(config, server_state, app_state)
    return server
