"""Wiring shared by the API and the worker: database, store, broker, service."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg

from .broker import Broker, create_broker
from .settings import ConfigError, Settings
from .store import SignalStore, create_pool
from .service import SignalService


def resolve_database_url(settings: Settings) -> str:
    """`DATABASE_URL`, or the embedded PostgreSQL under the data directory."""
    if settings.database_url:
        return settings.database_url
    from .embedded import embedded_database_url

    return embedded_database_url(settings.data_dir)


async def migrate(database_url: str) -> None:
    from .migrations import upgrade_to_head

    await asyncio.to_thread(upgrade_to_head, database_url)


@dataclass
class Runtime:
    settings: Settings
    database_url: str | None  # None: a pool the host handed over, without a DSN
    store: SignalStore
    broker: Broker
    service: SignalService


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

    `database_url` overrides `DATABASE_URL`. `pool`: an asyncpg pool the caller
    owns (an app embedding signalhub); it is used as it is and never closed.
    Migrations and the PostgreSQL broker's LISTEN connection still need a DSN:
    without one they fail here with a `ConfigError` that says so.
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
        await migrate(database_url)
    own_pool = pool is None
    if own_pool:
        pool = await create_pool(database_url, max_size=pool_size)
    try:
        broker = create_broker(settings.broker_url, database_url or "")
        try:
            await broker.connect()
            store = SignalStore(pool)
            yield Runtime(settings, database_url, store, broker, SignalService(store, broker))
        finally:
            await broker.close()
    finally:
        if own_pool:
            await pool.close()


def broker_needs_database(broker_url: str) -> bool:
    return broker_url.split("://", 1)[0].lower() in {"postgres", "postgresql"}
