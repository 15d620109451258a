"""`signalhub api`'s FastAPI application: a `SignalHub` (the same object an app
embedding signalhub uses, signalhub/fastapi.py) plus what only the standalone
server has: CORS, body limits, error mapping, health, metrics, the reference
document pipeline, the dev sign-in and the demo page."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from .. import __version__
from .._extras import documents_installed
from ..fastapi import SignalHub
from ..settings import Settings, get_settings
from .limits import DOCUMENT_UPLOAD_LIMIT, DOCUMENTS_PATH, BodySizeLimit
from . import admin, dev, documents, errors, ws

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent.parent / "static" / "web"


def create_app(settings: Settings | None = None) -> FastAPI:
    """The standalone app; its `SignalHub` is `app.state.signalhub` (`hub.asgi(app)` is what gets served)."""
    settings = settings or get_settings()
    hub = SignalHub(settings, run_retention=False)  # the worker runs retention (temporal/worker.py)
    app = FastAPI(
        title="signalhub",
        summary="Live, persisted signals from Temporal workflows to their users.",
        version=__version__,
        lifespan=hub.lifespan,
    )
    app.state.settings = settings  # the document and dev routes read it
    app.state.signalhub = hub  # also set by hub.lifespan; here so that the server finds it before start-up
    # Added before CORS so that CORS wraps it: a 413 still carries the CORS headers.
    app.add_middleware(
        BodySizeLimit,
        default_limit=settings.max_body_bytes,
        per_path={DOCUMENTS_PATH: max(settings.max_body_bytes, DOCUMENT_UPLOAD_LIMIT)},
    )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type"],
        max_age=600,
    )
    errors.install(app)
    app.include_router(hub.router)
    app.include_router(admin.health_router)
    if documents_installed():  # the reference application's upload route: the `documents` extra
        app.include_router(documents.router)
    if dev.dev_login_enabled(settings):
        app.include_router(dev.router)
    if WEB_DIR.is_dir():
        app.mount("/", StaticFiles(directory=WEB_DIR, html=True), name="web")
    return app


class DirectWebSocket:
    """The ASGI entry point `signalhub api` serves: `/ws` goes straight to
    `ws.signal_stream`; everything else (HTTP, lifespan) to the FastAPI app.

    Why: FastAPI's router, dependency machinery and middleware keep their
    per-request frames and exit stacks alive for a WebSocket's whole life
    (~12 KB per idle socket, docs/performance.md). Nothing they add applies
    to `/ws`: CORS does not cover WebSockets (the endpoint checks `Origin`
    itself), body limits are HTTP-only and the endpoint validates its own
    input. With `SIGNALHUB_WEBSOCKET_ENABLED=false` nothing is intercepted and
    FastAPI (which then has no `/ws` route) refuses the handshake.
    """

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.state = app.state
        self._serve_ws = bool(app.state.settings.websocket_enabled)

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # A plain function returning the endpoint's coroutine: no frame of its own
        # stays suspended for the socket's whole life.
        if self._serve_ws and scope["type"] == "websocket" and scope["path"] == "/ws":
            scope["app"] = self.app  # the endpoint reads settings, hub and runtime from app.state
            return ws.signal_stream(WebSocket(scope, receive, send), send, receive)
        return self.app(scope, receive, send)
