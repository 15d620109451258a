"""A host application's asyncpg pool, seen through signalhub's schema.

signalhub's SQL is unqualified (`workflow_signals`, not `signalhub.workflow_signals`)
and its own pool sets `search_path` when it connects (`store.connection_options`).
A pool the host app hands over (`SignalHub(pool=…)`) was created without that, so
its connections would resolve names in the host's search_path: a missing table,
or worse, a host table of the same name.

`SchemaPool` wraps such a pool. Every use takes a connection, opens a transaction
and sets `search_path` with `SET LOCAL` (`set_config(…, true)`) before signalhub's
statement runs. Why a transaction-local setting rather than a session `SET`:

- it ends with the transaction, so the connection goes back to the host exactly
  as it came, whatever reset the host's pool does (or does not do) on release;
- it also holds behind a transaction pooler (PgBouncer, Supavisor), where two
  statements outside a transaction may run on different server connections.

The price is three extra round trips per use (BEGIN, set_config, COMMIT). A nested
`conn.transaction()` in signalhub's code becomes a savepoint inside this one.
jsonb comes back as text on these connections (they keep asyncpg's default codecs:
signalhub never changes the host's connections); the store decodes it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

import asyncpg


class Queries(Protocol):
    """What signalhub's stores use of a pool: its own `asyncpg.Pool`, or a
    `SchemaPool` over the host's. Every method takes a connection for the call."""

    def acquire(self) -> AbstractAsyncContextManager[Any]: ...

    async def execute(self, query: str, *args: Any, timeout: float | None = None) -> str: ...

    async def fetch(self, query: str, *args: Any, timeout: float | None = None) -> list[Any]: ...

    async def fetchrow(self, query: str, *args: Any, timeout: float | None = None) -> Any: ...

    async def fetchval(self, query: str, *args: Any, column: int = 0, timeout: float | None = None) -> Any: ...


class SchemaPool:
    """The part of `asyncpg.Pool` signalhub uses, on the host's pool, inside `schema`."""

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self.pool = pool  # the host's: never closed here
        self.schema = schema
        self._search_path = '"' + schema.replace('"', '""') + '"'

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[asyncpg.pool.PoolConnectionProxy]:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT set_config('search_path', $1, true)", self._search_path)
            yield conn

    async def execute(self, query: str, *args: Any, timeout: float | None = None) -> str:
        async with self.acquire() as conn:
            return await conn.execute(query, *args, timeout=timeout)

    async def executemany(self, query: str, args: Any, *, timeout: float | None = None) -> None:
        async with self.acquire() as conn:
            await conn.executemany(query, args, timeout=timeout)

    async def fetch(self, query: str, *args: Any, timeout: float | None = None) -> list[asyncpg.Record]:
        async with self.acquire() as conn:
            return await conn.fetch(query, *args, timeout=timeout)

    async def fetchrow(self, query: str, *args: Any, timeout: float | None = None) -> asyncpg.Record | None:
        async with self.acquire() as conn:
            return await conn.fetchrow(query, *args, timeout=timeout)

    async def fetchval(self, query: str, *args: Any, column: int = 0, timeout: float | None = None) -> Any:
        async with self.acquire() as conn:
            return await conn.fetchval(query, *args, column=column, timeout=timeout)

    async def close(self) -> None:
        """Nothing: the pool belongs to the host app, which closes it."""
