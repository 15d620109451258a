"""The FastAPI application: lifespan wiring and routers."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from .. import __version__, metrics
from .._extras import documents_installed
from ..auth import TokenVerifier
from ..hub import Hub
from ..runtime import open_runtime
from ..settings import Settings, get_settings
from ..transport import WebSocketBypass
from . import admin, approvals, dev, documents, errors, inbox, inbox_state, signals, ws
from .limits import DOCUMENT_UPLOAD_LIMIT, DOCUMENTS_PATH, BodySizeLimit

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent.parent / "static" / "web"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    verifier = TokenVerifier.from_settings(settings)  # fails fast without a secret

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_runtime(settings) as runtime:
            hub = Hub(
                max_connections=settings.max_connections,
                max_connections_per_user=settings.max_connections_per_user,
            )
            app.state.runtime = runtime
            app.state.hub = hub
            metrics.watch(hub, runtime.broker)
            if settings.websocket_enabled:
                await runtime.broker.subscribe(hub.dispatch, hub.catch_up_all)
            yield
            hub.close_all()

    app = FastAPI(
        title="signalhub",
        summary="Live, persisted signals from Temporal workflows to their users.",
        version=__version__,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.verifier = verifier
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
    app.include_router(inbox.router)
    app.include_router(inbox_state.router)
    app.include_router(admin.router)
    app.include_router(signals.router)
    if documents_installed():  # the reference application's upload route: the `documents` extra
        app.include_router(documents.router)
    app.include_router(approvals.router)
    if dev.dev_login_enabled(settings):
        app.include_router(dev.router)
    if settings.websocket_enabled:
        app.include_router(ws.router)
    if WEB_DIR.is_dir():
        app.mount("/", StaticFiles(directory=WEB_DIR, html=True), name="web")
    return app


def serving_app(app: FastAPI) -> FastAPI | WebSocketBypass:
    """The ASGI app `signalhub api` serves: `/ws` straight to `ws.signal_stream`,
    everything else (HTTP, lifespan) to the FastAPI app.

    Nothing FastAPI's router and middleware add applies to `/ws`: CORS does not
    cover WebSockets (the endpoint checks `Origin` itself), body limits are
    HTTP-only and the endpoint validates its own input. With
    `SIGNALHUB_WEBSOCKET_ENABLED=false` nothing is intercepted and FastAPI
    (which then has no `/ws` route) refuses the handshake.
    """
    if not app.state.settings.websocket_enabled:
        return app
    return WebSocketBypass(app, "/ws", ws.signal_stream)
