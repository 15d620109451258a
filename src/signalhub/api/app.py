"""`signalhub api`'s FastAPI application: a `SignalHub` (the same object an app
embedding signalhub uses, signalhub/fastapi.py) plus what only the standalone
server has: CORS, body limits, error mapping, health, metrics, the reference
document pipeline, the dev sign-in and the demo page."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp

from .. import __version__
from .._extras import documents_installed
from ..fastapi import SignalHub
from ..settings import Settings, get_settings
from . import admin, approvals, dev, documents, errors
from .limits import DOCUMENT_UPLOAD_LIMIT, DOCUMENTS_PATH, BodySizeLimit

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
    app.include_router(approvals.router)
    if dev.dev_login_enabled(settings):
        app.include_router(dev.router)
    if WEB_DIR.is_dir():
        app.mount("/", StaticFiles(directory=WEB_DIR, html=True), name="web")
    return app


def serving_app(app: FastAPI) -> ASGIApp:
    """The ASGI app `signalhub api` serves: its `SignalHub`'s `asgi(app)` (`/ws` straight
    to `ws.signal_stream`, everything else, lifespan included, to the FastAPI app), the
    same wrapper a host app may apply to itself (docs/embedding.md)."""
    hub: SignalHub = app.state.signalhub
    return hub.asgi(app, lean=True)
