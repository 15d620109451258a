"""Serving the app with uvicorn, with a graceful shutdown that says 1001.

On SIGTERM/SIGINT readiness (`/readyz`) turns 503 and, after
`SIGNALHUB_SHUTDOWN_DRAIN_SECONDS` of serving as usual (0 by default), the
server stops accepting, every open socket gets close
1001 ("going away": reconnect elsewhere and resume), queued frames already
handed to a socket are finished, and then uvicorn shuts down.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn

from .heap import freeze_startup_objects
from .httphead import guard_protocol_factory
from .logs import log_config
from .settings import Settings
from .transport import PROTOCOL_PATH

if TYPE_CHECKING:
    from .fastapi import SignalHub

log = logging.getLogger(__name__)


class GracefulServer(uvicorn.Server):
    """uvicorn's server, whose shutdown first says 1001 on every open socket.

    uvicorn alone would close WebSockets with 1012; ours asks every connection
    to close with 1001 (its sender finishes the frame it is writing, drops the
    rest — the client resumes elsewhere by seq) and waits, bounded by
    `signalhub.fastapi.CLOSE_SOCKETS_TIMEOUT`, before uvicorn's own shutdown
    closes the rest.
    """

    def __init__(self, config: uvicorn.Config, hub: SignalHub, *, freeze_heap: bool = False) -> None:
        super().__init__(config)
        self._signalhub = hub
        self._freeze_heap = freeze_heap

    async def startup(self, sockets=None) -> None:
        await super().startup(sockets)
        if self._freeze_heap and not self.should_exit:  # started: the app and its lifespan are ready
            freeze_startup_objects()

    async def shutdown(self, sockets=None) -> None:
        hub = self._signalhub
        hub.draining = True  # readiness answers 503 from now on
        drain = hub.settings.shutdown_drain_seconds
        if drain:
            log.info("draining: /readyz answers 503; still serving for %.1fs", drain)
            await asyncio.sleep(drain)
        for server in self.servers:  # stop accepting first: nobody new to close
            server.close()
        await hub.close_sockets()
        await super().shutdown(sockets)


def guard_request_heads(config: uvicorn.Config, timeout: float) -> None:
    """Put `httphead.RequestHeadGuard` in front of every connection `config` serves.

    Public interfaces only: `Config.load()` resolves the HTTP protocol class
    (into the public `http_protocol_class`), which the server calls as a
    factory; we replace it with a factory that wraps what it makes. The server
    sees the config loaded and keeps our factory.
    """
    if not config.loaded:
        config.load()
    config.http_protocol_class = guard_protocol_factory(config.http_protocol_class, timeout)  # type: ignore[assignment]


def _ws_protocol(name: str) -> str:
    """`signalhub` (default: `transport.WebSocketProtocol`) or any of uvicorn's own
    (`auto`, `websockets-sansio`, `websockets`, `wsproto`)."""
    return PROTOCOL_PATH if name in ("signalhub", "") else name


def socket_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's WebSocket settings as `signalhub api` runs them (`SignalHub.uvicorn_options()`
    hands them to an app embedding signalhub)."""
    return {
        # See docs/performance.md: which implementation, and why per-message deflate is off
        # by default (a zlib context per socket costs more memory and CPU than small JSON saves).
        "ws": _ws_protocol(settings.ws_impl),
        "ws_per_message_deflate": settings.ws_deflate,
        "ws_max_size": settings.max_inbound_message_bytes,
        "ws_ping_interval": 20.0,
        "ws_ping_timeout": 20.0,
    }


def serve(
    settings: Settings,
    *,
    host: str,
    port: int,
    ssl_certfile: Path | None = None,
    ssl_keyfile: Path | None = None,
    log_level: str = "info",
) -> None:
    from .api import app as app_module

    fastapi_app = app_module.create_app(settings)
    hub: SignalHub = fastapi_app.state.signalhub
    run_server(  # the bypass returns the coroutine: served as ASGI 3 (run_server)
        app_module.serving_app(fastapi_app),  # /ws outside FastAPI's routing (docs/performance.md)
        hub,
        host=host,
        port=port,
        log_level=log_level,  # and, from it, signalhub's log config (run_server)
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        ssl_certfile=str(ssl_certfile) if ssl_certfile else None,
        ssl_keyfile=str(ssl_keyfile) if ssl_keyfile else None,
        timeout_graceful_shutdown=5,
        freeze_heap=True,  # a process of signalhub's own (heap.py)
    )


def run_server(app: Any, hub: SignalHub, *, freeze_heap: bool = False, **options: Any) -> None:
    """uvicorn with `socket_options` (unless `options` say otherwise), the
    request-head guard (`SIGNALHUB_REQUEST_HEAD_TIMEOUT`) and a shutdown that
    turns readiness 503, drains, and says 1001 on every socket first:
    `signalhub api` and `SignalHub.serve` alike. Unless `options` has a `log_config`,
    signalhub's (tokens redacted, the socket access lines included) is used.
    `freeze_heap`: once started, exempt startup's objects from garbage collection
    (`heap.freeze_startup_objects`; `signalhub api` does, a host's app by default not)."""
    options.setdefault("log_config", log_config(str(options.get("log_level", "info")).upper()))
    config = uvicorn.Config(app, **{"interface": "asgi3", **socket_options(hub.settings), **options})
    guard_request_heads(config, hub.settings.request_head_timeout)
    GracefulServer(config, hub, freeze_heap=freeze_heap).run()
