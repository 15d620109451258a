"""Retention: signals older than `SIGNALHUB_RETENTION_DAYS` go, whole months at a time.

`workflow_signals` is partitioned by month of `created_at` (0006_partition_signals.sql).
Each round first makes the coming months' partitions and drops every month that lies
wholly before the cut-off (`partitions.py`: DETACH, then counts, keys and DROP). What
is left older than the cut-off (the part of the month the cut-off falls in, and old
rows in the default partition) is deleted row by row in small batches, as below.
With the default 90 days the cut-off is never aligned to a month, so the boundary
month is trimmed a little every round (an hour's worth of rows at the default interval).

Guarantees:
- only rows whose `created_at` (the database's clock, not the sender's
  `timestamp`) is older than the cut-off are deleted;
- each batch is one short statement in its own transaction, deleting at most
  `batch_size` rows; rows another transaction holds (e.g. being marked read)
  are skipped, never waited for (`FOR UPDATE SKIP LOCKED`); the table only
  ever gets DELETE's ROW EXCLUSIVE lock, which blocks neither reads nor
  inserts; a batch waits at most `LOCK_TIMEOUT` for a lock;
- per-user `seq` numbers are never reused: the counters live in
  `workflow_signal_seqs`, which retention does not touch;
- `SIGNALHUB_RETENTION_DAYS=0` keeps everything (`run_periodically` makes the coming
  months' partitions once and returns; rows of months without one go to the default partition);
- archived and deleted signals (tombstones) go at the same age as any other;
  the inbox counts follow through their triggers (0004_inbox_state.sql).

The worker runs `run_periodically`; `signalhub purge` runs `purge_once`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from . import partitions
from .hostpool import Queries

log = logging.getLogger(__name__)

LOCK_TIMEOUT = "2s"
# Batches yield to other work in between, so a big backlog never hogs the database.
PAUSE_BETWEEN_BATCHES = 0.05

_DELETE_BATCH = """
WITH doomed AS (
    SELECT id, created_at FROM workflow_signals
    WHERE created_at < $1
    ORDER BY created_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
DELETE FROM workflow_signals w USING doomed WHERE w.id = doomed.id AND w.created_at = doomed.created_at
"""


def _pool_of(store_or_pool: Any) -> Queries:
    """Accepts a `SignalStore` (has `.pool`) or an asyncpg pool."""
    return getattr(store_or_pool, "pool", store_or_pool)


def cutoff(older_than: timedelta, now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC)) - older_than


async def purge_once(
    store_or_pool: Any,
    older_than: timedelta,
    *,
    batch_size: int = 1000,
    max_batches: int | None = None,
    on_batch: Callable[[int], None] | None = None,
    pause: float = PAUSE_BETWEEN_BATCHES,
) -> int:
    """Delete signals created before now - `older_than`; return how many were deleted.

    Drops the months wholly before the cut-off first (see `partitions.py`), then runs
    batches of at most `batch_size` rows until a batch comes back short (or
    `max_batches` ran); `on_batch(n)` is called after each batch.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    pool = _pool_of(store_or_pool)
    before = cutoff(older_than)
    maintained = await partitions.maintain(pool, before)
    total = maintained[1] if maintained else 0
    batches = 0
    while max_batches is None or batches < max_batches:
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            status = await conn.execute(_DELETE_BATCH, before, batch_size)
        deleted = int(status.rsplit(" ", 1)[-1])
        batches += 1
        total += deleted
        if on_batch is not None:
            on_batch(deleted)
        if deleted < batch_size:
            break
        await asyncio.sleep(pause)
    return total


async def run_periodically(store_or_pool: Any, settings: Any) -> None:
    """Purge every `SIGNALHUB_RETENTION_INTERVAL` seconds until cancelled.

    A failed round (database restarting, lock timeout) is logged and retried
    at the next interval; it never ends the loop.
    """
    if not settings.retention_days:
        log.info("retention: disabled (SIGNALHUB_RETENTION_DAYS=0); signals are kept forever")
        try:
            await partitions.maintain(_pool_of(store_or_pool), None)
        except Exception as exc:  # rows of months without a partition still land in the default one
            log.warning("partitions: making the coming months failed: %s: %s", type(exc).__name__, exc)
        return
    older_than = timedelta(days=settings.retention_days)
    while True:
        try:
            deleted = await purge_once(store_or_pool, older_than, batch_size=settings.retention_batch_size)
            if deleted:
                log.info("retention: deleted %d signals older than %s days", deleted, settings.retention_days)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # keep the worker alive; the next round retries
            log.warning("retention: round failed: %s: %s", type(exc).__name__, exc)
            # A cancel that arrived mid-transaction on a connection that had just died comes
            # out of the transaction's exit as that connection's error: still, stop as asked.
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise asyncio.CancelledError from exc
        await asyncio.sleep(settings.retention_interval_seconds)
