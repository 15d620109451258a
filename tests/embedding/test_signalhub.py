"""`SignalHub` on its own: a host's pool, what it leaves of the host app, retention, the socket wrapper."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterator

import asyncpg
import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from signalhub.api.admin import health_router
from signalhub.fastapi import SERVER_LOGGERS, SignalHub, socket_path
from signalhub.logs import RedactTokens
from signalhub.migrations import SchemaBehind, scratch_database
from signalhub.settings import ConfigError, Settings
from signalhub.signals import SignalError
from signalhub.store_inbox import InboxStateStore
from tests.support import SECRET, async_wait_until, connect, free_port


def _settings(database_url: str | None, **extra) -> Settings:
    return Settings(supabase_jwt_secret=SECRET, database_url=database_url, **extra)


@pytest.fixture
async def host_pool(database_url: str):
    """The host's own asyncpg pool, exactly as asyncpg makes it (no codecs of signalhub's)."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=3)
    yield pool
    await pool.close()


async def test_emit_runs_on_the_hosts_pool_and_leaves_it_as_the_host_had_it(database_url, host_pool):
    hub = SignalHub(_settings(None), pool=host_pool, dsn=database_url)
    user = uuid.uuid4()
    async with hub.lifespan():
        first = await hub.emit(user, "progress", "wf-pool", {"progress": 0.25, "step": "é"}, idempotency_key="k1")
        again = await hub.emit(user, "progress", "wf-pool", {"progress": 0.25}, idempotency_key="k1")
        [stored] = (await hub.runtime.store.page(user, limit=5)).signals
    assert first.created and not again.created and again.signal.id == first.signal.id
    assert stored.data == {"progress": 0.25, "step": "é"}
    # The host's connections kept asyncpg's own jsonb handling, and the pool is still open.
    assert not host_pool.is_closing()
    assert await host_pool.fetchval("""SELECT '{"a": 1}'::jsonb""") == '{"a": 1}'


@pytest.fixture
def empty_database(server_url: str) -> Iterator[str]:
    """A database with nothing of signalhub's in it yet: the host's own."""
    with scratch_database(server_url, "signalhub_hostpool", migrate=False) as url:
        yield url


async def test_on_a_hosts_pool_signalhub_migrates_and_works_in_its_own_schema_and_never_in_the_hosts(empty_database):
    # The host has a table of the same name in public, and a pool made without any
    # search_path of signalhub's: every query must still land in signalhub's schema.
    setup = await asyncpg.connect(empty_database)
    try:
        await setup.execute("CREATE TABLE public.workflow_signals (host_column text)")
        await setup.execute("INSERT INTO public.workflow_signals VALUES ('the host''s row')")
    finally:
        await setup.close()
    pool = await asyncpg.create_pool(empty_database, min_size=1, max_size=2)
    try:
        hosts_search_path = await pool.fetchval("SHOW search_path")
        settings = _settings(None, db_schema="host_realtime")
        hub = SignalHub(settings, pool=pool, dsn=empty_database, migrate=True)
        user = uuid.uuid4()
        async with hub.lifespan():
            emitted = await hub.emit(user, "status_update", "wf-schema", {"status": "created"})
            assert await hub.runtime.store.unread_count(user) == 1
            await hub.runtime.store.mark_read(user, emitted.signal.id)
            assert (await InboxStateStore(hub.runtime.store.pool).counts(user)).unread == 0
            [stored] = (await hub.runtime.store.page(user, limit=5)).signals
            assert stored.read and stored.data == {"status": "created"}
        async with pool.acquire() as conn:
            assert await conn.fetch("SELECT * FROM public.workflow_signals") == [("the host's row",)]
            assert await conn.fetchval("SELECT count(*) FROM host_realtime.workflow_signals") == 1
            assert await conn.fetchval("SELECT version_num IS NOT NULL FROM host_realtime.alembic_version")
            assert await conn.fetchval("SELECT to_regclass('public.alembic_version')") is None
            # The host's connections come back as the host made them: its search_path, no open transaction.
            assert await conn.fetchval("SHOW search_path") == hosts_search_path != "host_realtime"
            assert not conn.is_in_transaction()
    finally:
        await pool.close()


async def test_without_migrate_on_start_the_hub_only_checks_the_schema_and_refuses_one_that_is_behind(empty_database):
    settings = _settings(empty_database, migrate_on_start=False)
    with pytest.raises(SchemaBehind, match="signalhub migrate"):
        async with SignalHub(settings, migrate=True).lifespan():
            pass
    async with SignalHub(_settings(empty_database), migrate=True).lifespan():  # the default: migrate
        pass
    async with SignalHub(settings, migrate=True).lifespan():  # now current: it starts
        pass


async def test_in_a_host_app_an_outage_is_a_503_on_signalhubs_routes_and_readiness_says_why(database_url, token):
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    hub = SignalHub(_settings(None, broker_url="memory"), pool=pool, migrate=False)
    app = FastAPI()
    app.include_router(hub.router)
    app.include_router(health_router)  # optional for a host: signalhub api's probes

    @app.get("/mine")
    async def mine() -> dict:
        raise ConnectionError("the host's own failure")

    auth = {"Authorization": f"Bearer {token(uuid.uuid4())}"}
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with hub.lifespan(app), httpx.AsyncClient(transport=transport, base_url="http://host") as http:
            assert (await http.get("/api/v1/inbox/signals/unread-count", headers=auth)).json() == {"unread_count": 0}
            assert (await http.get("/readyz")).json()["status"] == "ready"
            hub.draining = True  # what the server sets on SIGTERM
            draining = await http.get("/readyz")
            assert (draining.status_code, draining.json()["shutdown"]) == (503, "in progress")
            hub.draining = False

            pool.terminate()  # the host's database connections are gone
            down = await http.get("/api/v1/inbox/signals/unread-count", headers=auth)
            assert (down.status_code, down.headers["retry-after"]) == (503, "2")
            assert down.json() == {"detail": "database unavailable; try again shortly"}
            not_ready = await http.get("/readyz")
            assert not_ready.status_code == 503 and not_ready.json()["database"].startswith("unavailable")
            assert (await http.get("/healthz")).status_code == 200  # alive: no restart wanted
            assert (await http.get("/mine")).status_code == 500  # the host's routes keep the host's handling
    finally:
        pool.terminate()


async def test_a_dsn_given_to_the_hub_is_used_instead_of_database_url(database_url):
    hub = SignalHub(_settings("postgresql://nobody@127.0.0.1:1/nowhere"), dsn=database_url, migrate=False)
    async with hub.lifespan():
        assert hub.runtime.database_url == database_url
        assert (await hub.emit(uuid.uuid4(), "completion", "wf-dsn", {"result": {"ok": True}})).created


async def test_a_hosts_pool_without_a_dsn_needs_another_broker_and_says_so(host_pool):
    with pytest.raises(ConfigError, match="needs a DSN"):
        async with SignalHub(_settings(None), pool=host_pool, migrate=False).lifespan():
            pass
    with pytest.raises(ConfigError, match="migrations need a DSN"):
        async with SignalHub(_settings(None, broker_url="memory"), pool=host_pool).lifespan():
            pass
    hub = SignalHub(_settings(None, broker_url="memory"), pool=host_pool, migrate=False)
    async with hub.lifespan():
        assert (await hub.emit(uuid.uuid4(), "completion", "wf-memory", {"result": {}})).created


async def test_emit_outside_the_lifespan_says_signalhub_is_not_running(database_url):
    hub = SignalHub(_settings(database_url))
    with pytest.raises(RuntimeError, match="not running"):
        await hub.emit(uuid.uuid4(), "completion", "wf", {"result": {}})


async def test_emit_refuses_bad_input_like_the_service_does(database_url):
    hub = SignalHub(_settings(database_url), migrate=False)
    async with hub.lifespan():
        for args in (
            ("not-a-uuid", "completion", "wf", {}),
            (uuid.uuid4(), "Status Update", "wf", {}),
            (uuid.uuid4(), "progress", "wf", {"progress": float("nan")}),
            (uuid.uuid4(), "status_update", "wf\x00", {"status": "x"}),
        ):
            with pytest.raises(SignalError):
                await hub.emit(*args)


async def test_the_router_and_lifespan_leave_the_host_apps_middleware_handlers_and_state_alone(database_url):
    hub = SignalHub(_settings(database_url), migrate=False)
    app = FastAPI()
    app.state.settings = "the host's"

    @app.get("/mine")
    async def mine() -> dict:
        return {}

    middleware, handlers = list(app.user_middleware), dict(app.exception_handlers)
    app.include_router(hub.router)
    async with hub.lifespan(app):
        assert app.state.signalhub is hub
        assert app.state.settings == "the host's"
    assert app.user_middleware == middleware and app.exception_handlers == handlers
    assert app.url_path_for("mine") == "/mine"


async def test_a_prefix_moves_the_socket_path(database_url):
    hub = SignalHub(_settings(database_url))
    app = FastAPI()
    app.include_router(hub.router, prefix="/realtime")
    assert socket_path(app) == "/realtime/ws"
    with pytest.raises(ValueError, match="include hub.router first"):
        socket_path(FastAPI())


async def test_the_lifespan_keeps_tokens_out_of_the_servers_log(database_url):
    async with SignalHub(_settings(database_url), migrate=False).lifespan():
        pass
    for name in SERVER_LOGGERS:
        filters = [f for f in logging.getLogger(name).filters if isinstance(f, RedactTokens)]
        assert len(filters) == 1


@pytest.fixture
def own_database(server_url: str) -> Iterator[str]:
    """Retention deletes across all users: a database of this test's own."""
    with scratch_database(server_url, "signalhub_retention") as url:
        yield url


async def test_the_embedded_lifespan_runs_retention_when_configured(own_database):
    settings = _settings(own_database, retention_days=1e-6, retention_interval_seconds=0.1)  # older than ~0.09 s
    for run_retention, kept in ((False, 1), (True, 0)):
        hub = SignalHub(settings, migrate=False, run_retention=run_retention)
        async with hub.lifespan():
            await hub.emit(uuid.uuid4(), "completion", "wf-old", {"result": {}})
            await asyncio.sleep(1.0)
            count = await hub.runtime.store.pool.fetchval("SELECT count(*) FROM workflow_signals")
            await hub.runtime.store.pool.execute("DELETE FROM workflow_signals")
        assert count == kept


class _HostApp:
    """A host ASGI app that records what reaches it."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    async def __call__(self, scope, receive, send) -> None:
        self.seen.append((scope["type"], scope["path"]))


async def test_the_wrapper_takes_only_signalhubs_socket_path_and_passes_everything_else_on(database_url):
    hub = SignalHub(_settings(database_url))
    host = _HostApp()
    wrapped = hub.asgi(host, path="/realtime/ws")
    assert hub.asgi(wrapped) is wrapped  # hub.serve(app) of an app already wrapped wraps it once
    others = [("http", "/realtime/ws"), ("websocket", "/ws"), ("websocket", "/realtime/ws/"),
              ("websocket", "/REALTIME/ws"), ("websocket", "/realtime/ws\u0660"), ("lifespan", "")]
    for kind, path in others:
        await wrapped({"type": kind, "path": path}, None, None)
    assert host.seen == others
    # Its own path goes to signalhub's endpoint (here: not started, so it says so) and never to the host.
    with pytest.raises(RuntimeError, match="not running"):
        await wrapped({"type": "websocket", "path": "/realtime/ws", "headers": [], "query_string": b""}, None, None)
    assert host.seen == others


async def test_without_websockets_there_is_no_socket_route_and_nothing_to_wrap(database_url):
    hub = SignalHub(_settings(database_url, websocket_enabled=False))
    app = FastAPI()
    app.include_router(hub.router)
    assert hub.asgi(app) is app
    with pytest.raises(ValueError):
        socket_path(app)


async def test_the_lifespan_serves_as_the_apps_own_lifespan(database_url, token):
    hub = SignalHub(_settings(database_url), migrate=False)
    app = FastAPI(lifespan=hub.lifespan)
    app.include_router(hub.router)
    user = uuid.uuid4()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    serving = asyncio.create_task(server.serve())
    try:
        await async_wait_until(lambda: server.started or serving.done(), timeout=20, what="uvicorn started")
        assert app.state.signalhub is hub and hub.runtime is not None
        base = f"127.0.0.1:{server.config.port}"
        async with httpx.AsyncClient(base_url=f"http://{base}") as http:
            answer = await http.get("/api/v1/inbox/signals/unread-count", headers={"Authorization": f"Bearer {token(user)}"})
        assert answer.json() == {"unread_count": 0}
        ws, hello = await connect(f"ws://{base}/ws", token(user))
        assert hello["user_id"] == str(user)
        await ws.close()
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 20)
    assert hub.runtime is None and hub.connections.total == 0
