"""Retention: old signals are deleted in bounded batches; recent ones and seq counters stay.

Runs on a database of its own, so "every old row" means the rows made here.
"""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from datetime import timedelta
from types import SimpleNamespace

import pytest

from signalhub import retention
from signalhub.migrations import scratch_database
from signalhub.store import connect as connect_db
from signalhub.store import create_pool
from tests.support import BIN, base_env

INSERT = """
INSERT INTO workflow_signals (user_id, workflow_id, signal_type, seq, created_at)
SELECT $1, 'wf', 'progress', $2 + n, now() - make_interval(days => $4) FROM generate_series(1, $3) AS n
"""


@pytest.fixture(scope="module")
def own_database_url(server_url):
    with scratch_database(server_url, "signalhub_retention") as url:
        yield url


@pytest.fixture
async def pool(own_database_url):
    pool = await create_pool(own_database_url, max_size=3)
    await pool.execute("TRUNCATE workflow_signals")
    try:
        yield pool
    finally:
        await pool.close()


async def add(pool, user: uuid.UUID, count: int, age_days: int, first_seq: int = 0) -> None:
    await pool.execute(INSERT, user, first_seq, count, age_days)


async def test_purge_deletes_old_rows_in_batches_and_keeps_recent_ones(pool):
    user = uuid.uuid4()
    await add(pool, user, 25, age_days=100)
    await add(pool, user, 7, age_days=1, first_seq=25)
    await pool.execute("INSERT INTO workflow_signal_seqs (user_id, last_seq) VALUES ($1, 32)", user)

    batches: list[int] = []
    deleted = await retention.purge_once(pool, timedelta(days=90), batch_size=10, on_batch=batches.append, pause=0)

    assert deleted == 25
    assert batches == [10, 10, 5]
    remaining = await pool.fetch("SELECT seq FROM workflow_signals WHERE user_id = $1 ORDER BY seq", user)
    assert [r["seq"] for r in remaining] == list(range(26, 33))
    # The per-user counter is untouched, so a seq is never handed out twice.
    assert await pool.fetchval("SELECT last_seq FROM workflow_signal_seqs WHERE user_id = $1", user) == 32


async def test_exact_multiple_of_the_batch_size_ends_with_one_empty_batch(pool):
    await add(pool, uuid.uuid4(), 20, age_days=100)
    batches: list[int] = []
    assert await retention.purge_once(pool, timedelta(days=90), batch_size=10, on_batch=batches.append, pause=0) == 20
    assert batches == [10, 10, 0]


async def test_max_batches_bounds_one_round(pool):
    await add(pool, uuid.uuid4(), 25, age_days=100)
    assert await retention.purge_once(pool, timedelta(days=90), batch_size=10, max_batches=1, pause=0) == 10
    assert await pool.fetchval("SELECT count(*) FROM workflow_signals") == 15


async def test_rows_locked_by_another_transaction_are_skipped_not_waited_for(pool, own_database_url):
    user = uuid.uuid4()
    await add(pool, user, 5, age_days=100)
    other = await connect_db(own_database_url)
    try:
        async with other.transaction():
            # Someone is marking the oldest row read right now.
            locked = await other.fetchval(
                "SELECT id FROM workflow_signals WHERE user_id = $1 ORDER BY seq LIMIT 1 FOR UPDATE", user
            )
            deleted = await asyncio.wait_for(
                retention.purge_once(pool, timedelta(days=90), batch_size=2, pause=0), 30
            )
            assert deleted == 4
        assert await pool.fetchval("SELECT id FROM workflow_signals WHERE user_id = $1", user) == locked
    finally:
        await other.close()


async def test_periodic_task_purges_until_cancelled(pool):
    settings = SimpleNamespace(retention_days=30, retention_batch_size=3, retention_interval_seconds=0.1)
    task = asyncio.create_task(retention.run_periodically(pool, settings))
    try:
        await add(pool, uuid.uuid4(), 7, age_days=31)
        await add(pool, uuid.uuid4(), 2, age_days=29)
        for _ in range(200):
            if await pool.fetchval("SELECT count(*) FROM workflow_signals") == 2:
                break
            await asyncio.sleep(0.05)
        assert await pool.fetchval("SELECT count(*) FROM workflow_signals") == 2
        assert not task.done()
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_retention_days_zero_keeps_everything(pool):
    await add(pool, uuid.uuid4(), 3, age_days=10_000)
    settings = SimpleNamespace(retention_days=0, retention_batch_size=10, retention_interval_seconds=0.1)
    await asyncio.wait_for(retention.run_periodically(pool, settings), 5)  # returns at once
    assert await pool.fetchval("SELECT count(*) FROM workflow_signals") == 3


async def test_purge_command_deletes_what_is_older_than_asked(pool, own_database_url):
    await add(pool, uuid.uuid4(), 4, age_days=40)
    await add(pool, uuid.uuid4(), 1, age_days=5)
    result = await asyncio.to_thread(
        subprocess.run,
        [str(BIN / "signalhub"), "purge", "--older-than-days", "30", "--batch-size", "3"],
        env=base_env(own_database_url), capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "deleted 4 signals older than 30 days" in result.stdout
    assert await pool.fetchval("SELECT count(*) FROM workflow_signals") == 1
