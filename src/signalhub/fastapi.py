"""signalhub inside an existing FastAPI app (docs/embedding.md)::

    hub = SignalHub()                      # Settings from the environment
    app = FastAPI(lifespan=hub.lifespan)   # or `async with hub.lifespan(app):` in your own
    app.include_router(hub.router)         # or prefix="/realtime": the WebSocket follows
    ...
    await hub.emit(user_id, "status_update", "thing-1", {"status": "created"})

    app = hub.asgi(app)                    # optional: the socket path `signalhub api` uses
    hub.serve(app, host=…, port=…)         # optional: uvicorn as `signalhub api` runs it

`signalhub api` is built from the same object (`api/app.py`), so the two
cannot drift apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
from fastapi import APIRouter, Depends
from starlette.datastructures import State
from starlette.routing import NoMatchFound
from starlette.types import ASGIApp, Receive, Scope, Send

from . import metrics
from .api import admin, errors, inbox, inbox_state, signals, ws
from .auth import TokenVerifier
from .hub import Hub
from .logs import RedactTokens
from .retention import run_periodically as run_retention
from .runtime import Runtime, open_runtime
from .service import EmitResult
from .settings import Settings, get_settings
from .transport import AwaitingWebSocketBypass, WebSocketBypass

log = logging.getLogger(__name__)

#: How long open sockets get to receive their 1001 before the pool and broker close.
CLOSE_SOCKETS_TIMEOUT = 3.0


class SignalHub:
    """signalhub's routes, lifespan and in-process emit, for `signalhub api` and for a host app.

    Guarantees:
    - `router` holds only signalhub's routes (`/ws`, the inbox API and its
      state changes, `/api/v1/signals` and `/api/v1/signals/batch`, `/ws/status`,
      `/ws/send-test`); including it adds no
      middleware, exception handler or dependency to the host's app. The one
      thing written to the host app is `app.state.signalhub`, by `lifespan`.
    - a database outage while one of those HTTP routes runs is a 503 with
      `Retry-After` (a dependency on signalhub's routes alone); the socket closes
      with 1013. Readiness and health are not in `router`: `signalhub api` serves
      them from `api.admin.health_router`, which a host may include too.
    - tokens never reach the server log: `lifespan` adds signalhub's redacting
      filter to uvicorn's loggers (`redact_server_logs`).
    - tokens are verified with signalhub's own Supabase settings
      (`SUPABASE_JWT_SECRET`, `SUPABASE_URL`), whatever auth the host uses
      for its own routes.
    - `emit` is `SignalService.emit`: it returns once the signal is committed,
      announces it to every instance over the broker, and a repeated
      idempotency key returns the stored signal without a second delivery.
    - leaving `lifespan` closes every open socket with 1001 (bounded by
      `CLOSE_SOCKETS_TIMEOUT`), stops retention, the broker and the pool; a
      pool handed over by the host is left open (it is the host's).

    - every table signalhub reads or writes is in its own schema
      (`SIGNALHUB_DB_SCHEMA`, default `signalhub`), on its own pool and on a
      host's pool alike.

    `pool`: the host's asyncpg pool. signalhub runs its queries on it, each in
    a transaction that sets signalhub's search_path locally (`hostpool.py`), so
    the host's connections go back unchanged. Migrations and the PostgreSQL
    broker still need a DSN: `dsn=` or `DATABASE_URL`. `migrate`: on start,
    migrate signalhub's schema (with `SIGNALHUB_MIGRATE_ON_START=false`, only
    check that it is current). `run_retention`: delete signals older than
    `SIGNALHUB_RETENTION_DAYS` from this process (the Temporal worker does it
    too; both may run).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        pool: asyncpg.Pool | None = None,
        dsn: str | None = None,
        migrate: bool = True,
        run_retention: bool = True,
        pool_size: int = 10,
    ) -> None:
        self.settings = settings or get_settings()
        self.verifier = TokenVerifier.from_settings(self.settings)  # fails now, not at the first request, without a secret
        self.runtime: Runtime | None = None
        self.connections: Hub | None = None  # this process's open sockets, while running
        self.draining = False  # set on shutdown by the server (server.py): /readyz answers 503
        self.router = self._build_router()
        self._pool = pool
        self._dsn = dsn
        self._migrate = migrate
        self._run_retention = run_retention
        self._pool_size = pool_size

    def _build_router(self) -> APIRouter:
        router = APIRouter()
        # HTTP routes answer a database outage with 503 in any app (signalhub api also has a
        # middleware for it; a host app has only this). Not on /ws: it closes with 1013 itself.
        http = [Depends(errors.outages_answer_503)]
        router.include_router(inbox.router, dependencies=http)
        router.include_router(inbox_state.router, dependencies=http)
        router.include_router(signals.router, dependencies=http)
        router.include_router(admin.router, dependencies=http)
        if self.settings.websocket_enabled:
            router.include_router(ws.router)
        return router

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Any = None) -> AsyncIterator[None]:
        """Open the database pool (or take the host's), migrate, subscribe the
        broker and start retention; on exit, close sockets with 1001 and release
        everything. `app`: the app whose routes include `router`."""
        if self.runtime is not None:
            raise RuntimeError("this SignalHub is already running; one lifespan at a time")
        async with open_runtime(
            self.settings,
            run_migrations=self._migrate,
            pool_size=self._pool_size,
            pool=self._pool,
            database_url=self._dsn,
        ) as runtime:
            connections = Hub(
                max_connections=self.settings.max_connections,
                max_connections_per_user=self.settings.max_connections_per_user,
            )
            metrics.watch(connections, runtime.broker)
            if self.settings.websocket_enabled:
                await runtime.broker.subscribe(connections.dispatch, connections.catch_up_all)
            retention = None
            if self._run_retention and self.settings.retention_days:
                retention = asyncio.create_task(run_retention(runtime.store, self.settings), name="signalhub-retention")
            self.runtime, self.connections = runtime, connections
            if app is not None:
                app.state.signalhub = self
            redact_server_logs()
            try:
                yield
            finally:
                await self.close_sockets()
                self.runtime = None
                if retention is not None:
                    retention.cancel()
                    await asyncio.gather(retention, return_exceptions=True)

    async def close_sockets(self, timeout: float = CLOSE_SOCKETS_TIMEOUT) -> None:
        """Ask every open socket to close with 1001 (reconnect and resume) and wait,
        at most `timeout` seconds, until they are gone."""
        connections = self.connections
        if connections is None or not connections.total:
            return
        log.info("closing %d WebSocket(s) with 1001", connections.total)
        connections.close_all()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while connections.total and loop.time() < deadline:
            await asyncio.sleep(0.02)

    async def emit(
        self,
        user_id: uuid.UUID | str,
        signal_type: str,
        workflow_id: str,
        data: dict[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> EmitResult:
        """Store and announce one signal (`SignalService.emit`); raises `SignalError` for bad input."""
        if self.runtime is None:
            raise RuntimeError("signalhub is not running: emit inside the app's lifespan (hub.lifespan)")
        return await self.runtime.service.emit(
            user_id, signal_type, workflow_id, data, idempotency_key=idempotency_key
        )

    def uvicorn_options(self) -> dict[str, Any]:
        """uvicorn's WebSocket settings as `signalhub api` runs them: its lean
        protocol, no per-message deflate, its message size limit and keepalive.
        `uvicorn.run(hub.asgi(app), host=…, port=…, **hub.uvicorn_options())`."""
        from .server import socket_options

        return socket_options(self.settings)

    def serve(self, app: ASGIApp, **options: Any) -> None:
        """Run `app` with uvicorn as `signalhub api` runs itself: wrapped by
        `asgi`, with `uvicorn_options()`, and a shutdown that closes every
        socket with 1001 before uvicorn's own (which would say 1012).
        `options`: any `uvicorn.Config` argument (`host`, `port`, `log_level`, …)."""
        from .server import run_server

        run_server(self.asgi(app, lean=True), self, **options)

    def asgi(self, app: ASGIApp, *, path: str | None = None, lean: bool = False) -> ASGIApp:
        """`app`, with signalhub's WebSocket answered before FastAPI's router.

        The same path `signalhub api` serves its `/ws` on: FastAPI's router,
        dependencies and middleware keep their frames alive for a socket's
        whole life, which costs memory per idle socket (docs/embedding.md has
        the numbers). Nothing they add applies to the socket (CORS and body
        limits are HTTP-only; the endpoint checks Origin and its input itself).
        `path`: where the socket is, by default the path of `router`'s `/ws` in
        `app` (so include the router first). Everything else goes to `app`.
        Any ASGI server recognises the result as ASGI 3 (`uvicorn main:app` works).
        `lean=True`: the wrapper keeps no frame of its own per socket, but must be
        served with `interface="asgi3"` (uvicorn cannot detect it; `serve` and
        `signalhub api` do this).
        """
        if not self.settings.websocket_enabled or isinstance(app, WebSocketBypass):
            return app
        kind = WebSocketBypass if lean else AwaitingWebSocketBypass
        return kind(_HubFront(self, app), path or socket_path(app), ws.signal_stream)


#: The server loggers that print a socket's request line, `?token=` included.
SERVER_LOGGERS = ("uvicorn.access", "uvicorn.error")


def redact_server_logs() -> None:
    """Keep tokens out of the host's server log (a token in `?token=` is in
    uvicorn's request line): the same filter `signalhub api` logs through,
    added once to uvicorn's loggers; nothing else of the host's logging changes."""
    for name in SERVER_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())


def socket_path(app: Any) -> str:
    """The path `app` serves signalhub's WebSocket on (its prefix included)."""
    try:
        return app.url_path_for(ws.signal_stream_route.__name__)
    except (AttributeError, NoMatchFound):
        raise ValueError(
            "signalhub's /ws is not among the app's routes: include hub.router first, or pass path=…"
        ) from None


class _HubFront:
    """The app `WebSocketBypass` hands signalhub's endpoint (as `scope["app"]`): this
    hub's state in front of the host app, which gets every other request untouched
    and answers for every other attribute."""

    __slots__ = ("state", "app")

    def __init__(self, hub: SignalHub, app: ASGIApp) -> None:
        self.state = State({"settings": hub.settings, "signalhub": hub})
        self.app = app

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Any:
        return self.app(scope, receive, send)

    def __getattr__(self, name: str) -> Any:
        if name in self.__slots__:
            raise AttributeError(name)
        return getattr(self.app, name)
