"""The monthly partitions of `workflow_signals` (0006_partition_signals.sql): made ahead of
time, dropped whole once every row in them is past the retention age.

Guarantees:
- `add_ahead` creates this month's partition and the next `MONTHS_AHEAD` when missing
  (idempotent; rows of those months already in the default partition move in);
- `drop_expired(before)` drops only partitions named `workflow_signals_pYYYY_MM` whose
  whole month ends at or before `before`: the default partition, the month `before`
  falls in, later months and every other table are never touched;
- dropping a month is two short transactions. First DETACH (a catalog change that
  needs the parent's ACCESS EXCLUSIVE lock for a moment; it waits at most
  `LOCK_TIMEOUT`, else the next round retries) and a rename to
  `workflow_signals_expired_pYYYY_MM`. Then, in one transaction, the inbox counts
  lose that month's live signals, its idempotency keys are released and the table is
  dropped. Between the two the counts still include the detached month (for as long
  as one `GROUP BY` over it takes); a crash there leaves the renamed table, which the
  next round finishes (`finish_expired`);
- one worker at a time does this (a session advisory lock); the others skip the
  partition steps of that round.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime

import asyncpg

from .hostpool import Queries

log = logging.getLogger(__name__)

MONTHS_AHEAD = 2
LOCK_TIMEOUT = "2s"
# Any number identifies the lock; it only has to differ from the migrations' lock.
MAINTENANCE_LOCK_ID = 0x5167_6E61_6C70_6172 & 0x7FFF_FFFF_FFFF_FFFF

_MONTH_NAME = re.compile(r"^workflow_signals_p\d{4}_\d{2}$")

_EXPIRED_MONTHS = r"""
SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'workflow_signals'::regclass AND c.relname ~ '^workflow_signals_p\d{4}_\d{2}$'
  AND (to_date(substring(c.relname FROM '\d{4}_\d{2}$'), 'YYYY_MM') + interval '1 month') AT TIME ZONE 'UTC' <= $1
ORDER BY c.relname
"""

_LEFT_DETACHED = r"""
SELECT c.relname FROM pg_class c
WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'
  AND c.relname ~ '^workflow_signals_expired_p\d{4}_\d{2}$'
  AND NOT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid)
ORDER BY c.relname
"""

# The counts lose the month's live signals (like the delete trigger, in user_id order).
_FORGET_COUNTS = """
INSERT INTO workflow_signal_counts AS c (user_id, total, unread, unseen)
SELECT user_id, -count(*), -count(*) FILTER (WHERE NOT read), -count(*) FILTER (WHERE seen_at IS NULL)
FROM {table} WHERE archived_at IS NULL AND deleted_at IS NULL
GROUP BY user_id ORDER BY user_id
ON CONFLICT (user_id) DO UPDATE SET total = c.total + EXCLUDED.total,
    unread = c.unread + EXCLUDED.unread, unseen = c.unseen + EXCLUDED.unseen
"""

_RELEASE_KEYS = """
DELETE FROM workflow_signal_idempotency_keys k USING {table} e
WHERE e.idempotency_key IS NOT NULL AND k.user_id = e.user_id
  AND k.idempotency_key = e.idempotency_key AND k.signal_id = e.id
"""

#: A connection of signalhub's pool (or of a host's, through `hostpool.SchemaPool`).
Connection = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def add_ahead(conn: Connection, months_ahead: int = MONTHS_AHEAD) -> int:
    """Create this month's partition and the next `months_ahead`; return how many were new."""
    async with conn.transaction():
        await conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        return int(await conn.fetchval(
            "SELECT workflow_signals_add_partitions(now(), now() + make_interval(months => $1))", months_ahead
        ))


async def finish_expired(conn: Connection, table: str) -> int:
    """Counts, keys, drop: the second step for a detached month; returns its row count."""
    quoted = _ident(table)
    async with conn.transaction():
        await conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        rows = int(await conn.fetchval(f"SELECT count(*) FROM {quoted}"))
        await conn.execute(_FORGET_COUNTS.format(table=quoted))
        await conn.execute(_RELEASE_KEYS.format(table=quoted))
        await conn.execute(f"DROP TABLE {quoted}")
    return rows


async def drop_expired(conn: Connection, before: datetime) -> int:
    """Drop every monthly partition that ends at or before `before`; return the rows dropped."""
    dropped = 0
    for (table,) in await conn.fetch(_LEFT_DETACHED):
        dropped += await finish_expired(conn, table)
    for (month,) in await conn.fetch(_EXPIRED_MONTHS, before):
        assert _MONTH_NAME.match(month)
        expired = month.replace("workflow_signals_p", "workflow_signals_expired_p", 1)
        async with conn.transaction():
            await conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            await conn.execute(f"ALTER TABLE workflow_signals DETACH PARTITION {_ident(month)}")
            await conn.execute(f"ALTER TABLE {_ident(month)} RENAME TO {_ident(expired)}")
        rows = await finish_expired(conn, expired)
        log.info("retention: dropped partition %s (%d signals)", month, rows)
        dropped += rows
    return dropped


async def maintain(pool: Queries, before: datetime | None) -> tuple[int, int] | None:
    """One round: months ahead, then (with `before`) expired months dropped.

    Returns (partitions created, rows dropped), or None when another process holds the
    maintenance lock (it does the same work).
    """
    async with pool.acquire() as conn:
        if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", MAINTENANCE_LOCK_ID):
            return None
        try:
            created = await add_ahead(conn)
            dropped = await drop_expired(conn, before) if before is not None else 0
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", MAINTENANCE_LOCK_ID)
    return created, dropped
