"""Serving the app with uvicorn, with a graceful shutdown that says 1001.

On SIGTERM/SIGINT the server stops accepting, every open socket gets close
1001 ("going away": reconnect elsewhere and resume), queued frames already
handed to a socket are finished, and then uvicorn shuts down.
"""

from __future__ import annotations

from pathlib import Path

import uvicorn

from .logs import log_config
from .settings import Settings


class GracefulServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app) -> None:
        super().__init__(config)
        self._signalhub_app = app

    def handle_exit(self, sig, frame) -> None:  # type: ignore[override]
        hub = getattr(self._signalhub_app.state, "hub", None)
        if hub is not None and not self.should_exit:
            hub.close_all()
        super().handle_exit(sig, frame)


def serve(
    settings: Settings,
    *,
    host: str,
    port: int,
    ssl_certfile: Path | None = None,
    ssl_keyfile: Path | None = None,
    log_level: str = "info",
) -> None:
    from .api.app import create_app

    fastapi_app = create_app(settings)
    config = uvicorn.Config(
        fastapi_app,
        host=host,
        port=port,
        log_config=log_config(log_level.upper()),
        log_level=log_level,
        ws_max_size=settings.max_inbound_message_bytes,
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        ssl_certfile=str(ssl_certfile) if ssl_certfile else None,
        ssl_keyfile=str(ssl_keyfile) if ssl_keyfile else None,
        timeout_graceful_shutdown=5,
    )
    server = GracefulServer(config, fastapi_app)
    server.run()
