"""Wiring shared by the API and the worker: database, store, broker, service."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from .broker import Broker, create_broker
from .settings import Settings
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
        await migrate(database_url)
    pool = await create_pool(database_url, max_size=pool_size)
    broker = create_broker(settings.broker_url, database_url)
    try:
        await broker.connect()
        store = SignalStore(pool)
        yield Runtime(settings, database_url, store, broker, SignalService(store, broker, allowed_types=settings.allowed_signal_types))
    finally:
        await broker.close()
        await pool.close()
