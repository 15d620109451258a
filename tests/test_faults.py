"""Connection-level database failures, produced for real, come out as `Unavailable`,
and a pooled connection that broke is never handed out again."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from signalhub.faults import CLOSE_TRY_AGAIN_LATER, QueryOutcomes, Unavailable, close_code_for, is_unavailable
from signalhub.migrations import scratch_database
from signalhub.signals import NewSignal
from signalhub.store import SignalStore, create_pool
from tests.support import admin_sql, database_name, terminate_backends


@pytest.fixture
def scratch_url(server_url):
    with scratch_database(server_url, "signalhub_faults") as url:
        yield url


async def test_a_terminated_pooled_connection_is_unavailable_then_replaced_not_reused(server_url, scratch_url):
    pool = await create_pool(scratch_url, min_size=1, max_size=1)
    try:
        before = await pool.fetchval("SELECT pg_backend_pid()")
        in_flight = asyncio.create_task(pool.fetchval("SELECT pg_sleep(10)"))
        await asyncio.sleep(0.5)  # the query is running on the one pooled connection
        await terminate_backends(server_url, database_name(scratch_url))
        with pytest.raises(Unavailable) as failure:
            await asyncio.wait_for(in_flight, 10)
        assert failure.value.what == "database" and is_unavailable(failure.value)
        assert close_code_for(failure.value) == CLOSE_TRY_AGAIN_LATER
        after = await pool.fetchval("SELECT pg_backend_pid()")  # a fresh connection, not the dead one
        assert after != before
    finally:
        await pool.close()


async def test_a_database_refusing_connections_is_unavailable_whatever_its_sqlstate(server_url, scratch_url):
    database = database_name(scratch_url)
    outcomes = QueryOutcomes()
    pool = await create_pool(scratch_url, min_size=1, max_size=1, outcomes=outcomes)
    try:
        assert await pool.fetchval("SELECT 1") == 1
        assert outcomes.serving(within=5)  # a query just succeeded
        await admin_sql(server_url, f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        await terminate_backends(server_url, database)
        for attempt in range(2):  # the dead connection, then the refused reconnect (SQLSTATE 55000)
            with pytest.raises(Unavailable) as failure:
                await pool.fetchval("SELECT 1")
            assert not outcomes.serving(within=5), attempt  # each outage is recorded, the refused connect too
        assert isinstance(failure.value.cause, asyncpg.ObjectNotInPrerequisiteStateError)
        await admin_sql(server_url, f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        assert await pool.fetchval("SELECT 1") == 1
        assert outcomes.serving(within=5)
    finally:
        await admin_sql(server_url, f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        await pool.close()


async def test_batched_inserts_hit_by_pg_terminate_backend_fail_only_as_unavailable(server_url, scratch_url):
    """The hostile run's case: backends killed while batches are in flight. Every insert
    either lands or fails as `Unavailable` (never asyncpg's InternalClientError or another
    raw error), and the pool serves again afterwards."""
    pool = await create_pool(scratch_url, min_size=2, max_size=2)
    store = SignalStore(pool)
    database = database_name(scratch_url)
    user = uuid.uuid4()
    outcomes: dict[str, int] = {}

    async def insert_batches(rounds: int) -> None:
        for round_no in range(rounds):
            news = [NewSignal.create(user, "completion", f"wf-{round_no}-{i}", {"i": i}) for i in range(50)]
            try:
                await store.insert_many(news)
                outcomes["stored"] = outcomes.get("stored", 0) + 1
            except Unavailable:
                outcomes["unavailable"] = outcomes.get("unavailable", 0) + 1

    async def kill_while(work: asyncio.Future) -> None:
        for _ in range(500):  # bounded; ends as soon as the inserts do
            if work.done():
                return
            await asyncio.sleep(0.02)
            await terminate_backends(server_url, database)

    try:
        work = asyncio.gather(insert_batches(60), insert_batches(60))
        await asyncio.gather(work, kill_while(work))
        assert outcomes.get("unavailable", 0) > 0, outcomes  # the kills did hit work in flight
        # A connection killed while idle in the pool fails its next query once, as `Unavailable`,
        # and is replaced: at most one failure per pooled connection, then the pool serves.
        failures = 0
        while True:
            try:
                await store.count()
                break
            except Unavailable:
                failures += 1
                assert failures <= 2, "a broken connection was handed out again"
    finally:
        await pool.close()


def test_query_outcomes_say_serving_only_after_a_recent_success_with_no_outage_since():
    outcomes = QueryOutcomes()
    assert not outcomes.serving(within=1.0, now=100.0)  # nothing has run yet
    outcomes.succeeded_at = 99.5
    assert outcomes.serving(within=1.0, now=100.0)
    assert not outcomes.serving(within=1.0, now=100.6)  # too long ago: readiness asks the database
    outcomes.failed_at = 99.8
    assert not outcomes.serving(within=1.0, now=100.0)  # an outage after the last success
    outcomes.succeeded_at = 99.9
    assert outcomes.serving(within=1.0, now=100.0)  # and a success after the outage


def test_only_outages_are_unavailable():
    assert is_unavailable(ConnectionResetError()) and is_unavailable(TimeoutError())
    assert is_unavailable(asyncpg.InternalClientError("cannot switch to state 12; another operation (2) is in progress"))
    assert not is_unavailable(asyncpg.DataError("invalid input for query argument $1"))
    assert not is_unavailable(asyncpg.UniqueViolationError("duplicate"))
    assert not is_unavailable(FileNotFoundError(2, "no such file"))
    assert not is_unavailable(ValueError("bug"))
    # The client's own socket failing while we write to it is not an outage of ours.
    assert close_code_for(ConnectionResetError()) == 1011
