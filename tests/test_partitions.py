"""workflow_signals by month: retention drops whole past months and nothing else, the
migration carries a populated table over row for row, and an idempotency key holds
across months.

Runs on databases of its own: dropping partitions must not disturb other tests."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from types import SimpleNamespace

import pytest

from signalhub import partitions, retention
from signalhub.inbox_state import InboxCounts, Target
from signalhub.migrations import _config, scratch_database
from signalhub.signals import NewSignal
from signalhub.store import SignalStore, create_pool
from signalhub.store_inbox import InboxStateStore

MONTH_START = "date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
PARTITIONS = """
SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'workflow_signals'::regclass ORDER BY 1
"""


@pytest.fixture(scope="module")
def own_database_url(server_url):
    with scratch_database(server_url, "signalhub_partitions") as url:
        yield url


@pytest.fixture
async def store(own_database_url):
    pool = await create_pool(own_database_url, max_size=3)
    await pool.execute("TRUNCATE workflow_signals")
    try:
        yield SignalStore(pool)
    finally:
        await pool.close()


async def emit(store, user, count, key_prefix=None, months_ago=0):
    """`count` signals, then moved `months_ago` months back (into that month's partition)."""
    news = [NewSignal.create(user, "progress", "wf", {"progress": i / 100}, f"{key_prefix}-{i}" if key_prefix else None)
            for i in range(count)]
    signals = [s for s, _ in await store.insert_many(news)]
    if months_ago:
        await store.pool.execute(
            f"UPDATE workflow_signals SET created_at = {MONTH_START} - make_interval(months => $2) + interval '1 day' "
            "WHERE id = ANY($1::uuid[])", [s.id for s in signals], months_ago)
    return signals


async def month_of(store, months_ago: int) -> str:
    return await store.pool.fetchval(
        f"SELECT 'workflow_signals_p' || to_char(({MONTH_START} - make_interval(months => $1)) AT TIME ZONE 'UTC', "
        "'YYYY_MM')", months_ago)


async def add_month(store, months_ago: int) -> None:
    await store.pool.execute(
        f"SELECT workflow_signals_add_partitions({MONTH_START} - make_interval(months => $1), "
        f"{MONTH_START} - make_interval(months => $1))", months_ago)


async def test_retention_drops_a_past_month_whole_and_keeps_this_month_the_future_and_other_tables(store):
    user = uuid.uuid4()
    inbox = InboxStateStore(store.pool)
    await add_month(store, 4)
    old = await emit(store, user, 5, key_prefix="old", months_ago=4)
    recent = await emit(store, user, 3)
    future = await emit(store, user, 2)
    await store.pool.execute(
        "UPDATE workflow_signals SET created_at = now() + interval '1 month' WHERE id = ANY($1::uuid[])",
        [s.id for s in future])
    await inbox.apply(user, "read", Target(ids=(old[0].id, recent[0].id)))
    await store.pool.execute("CREATE TABLE workflow_signals_p2001_01_notes (note text)")  # not a partition
    try:
        before = await store.pool.fetch(PARTITIONS)
        old_month = await month_of(store, 4)
        assert old_month in [r[0] for r in before]

        deleted = await retention.purge_once(store, timedelta(days=70), pause=0)

        assert deleted == 5
        after = [r[0] for r in await store.pool.fetch(PARTITIONS)]
        assert after == [r[0] for r in before if r[0] != old_month]
        assert {await month_of(store, 0), await month_of(store, -1), "workflow_signals_default"} <= set(after)
        assert await store.pool.fetchval("SELECT to_regclass($1)", old_month) is None
        assert await store.pool.fetchval("SELECT count(*) FROM workflow_signals_p2001_01_notes") == 0
        left = await store.pool.fetch("SELECT id FROM workflow_signals WHERE user_id = $1 ORDER BY seq", user)
        assert [r["id"] for r in left] == [s.id for s in recent + future]
        # The kept counts forgot the dropped month exactly (one of the five was read).
        assert await inbox.counts(user) == InboxCounts(unread=4, unseen=4, total=5)
        # Its idempotency keys went with it: the same key now stores a new signal.
        again, created = await store.insert(NewSignal.create(user, "progress", "wf", {"progress": 0.5}, "old-1"))
        assert created and again.id != old[1].id
    finally:
        await store.pool.execute("DROP TABLE workflow_signals_p2001_01_notes")


async def test_a_month_left_detached_by_a_crash_is_finished_by_the_next_round(store):
    user = uuid.uuid4()
    await add_month(store, 5)
    await emit(store, user, 4, months_ago=5)
    await emit(store, user, 1)
    month = await month_of(store, 5)
    expired = month.replace("workflow_signals_p", "workflow_signals_expired_p")
    await store.pool.execute(f"ALTER TABLE workflow_signals DETACH PARTITION {month}")
    await store.pool.execute(f"ALTER TABLE {month} RENAME TO {expired}")
    assert (await InboxStateStore(store.pool).counts(user)).total == 5  # the detached rows still counted

    assert await retention.purge_once(store, timedelta(days=120), pause=0) == 4

    assert await store.pool.fetchval("SELECT to_regclass($1)", expired) is None
    assert await InboxStateStore(store.pool).counts(user) == InboxCounts(unread=1, unseen=1, total=1)


async def test_a_new_month_takes_its_rows_over_from_the_default_partition(store):
    user = uuid.uuid4()
    [signal] = await emit(store, user, 1)
    await store.pool.execute(
        "UPDATE workflow_signals SET created_at = now() + interval '6 months' WHERE id = $1", signal.id)
    assert await store.pool.fetchval(
        "SELECT tableoid::regclass::text FROM workflow_signals WHERE id = $1", signal.id) == "workflow_signals_default"

    await add_month(store, -6)

    home = await store.pool.fetchval("SELECT tableoid::regclass::text FROM workflow_signals WHERE id = $1", signal.id)
    assert home == await month_of(store, -6)
    assert await InboxStateStore(store.pool).counts(user) == InboxCounts(unread=1, unseen=1, total=1)


async def test_making_the_coming_months_is_idempotent_and_one_worker_at_a_time(store):
    await partitions.maintain(store.pool, None)
    async with store.pool.acquire() as conn:
        assert await partitions.add_ahead(conn) == 0
    async with store.pool.acquire() as other:
        assert await other.fetchval("SELECT pg_try_advisory_lock($1)", partitions.MAINTENANCE_LOCK_ID)
        try:
            assert await partitions.maintain(store.pool, None) is None
        finally:
            await other.execute("SELECT pg_advisory_unlock($1)", partitions.MAINTENANCE_LOCK_ID)


async def test_an_idempotency_key_holds_across_months(store):
    user = uuid.uuid4()
    await add_month(store, 2)
    [first] = await emit(store, user, 1, key_prefix="job", months_ago=2)
    [first_too] = await emit(store, user, 1, key_prefix="other")
    retried, created = await store.insert(NewSignal.create(user, "completion", "wf", {"result": 1}, "job-0"))
    assert not created and retried.id == first.id and retried.seq == first.seq
    batch = await store.insert_many([NewSignal.create(user, "progress", "wf", {"progress": 0.5}, key)
                                     for key in ("job-0", "other-0", "new-0", "new-0")])
    assert [(s.id, created) for s, created in batch[:2]] == [(first.id, False), (first_too.id, False)]
    assert batch[2][1] and not batch[3][1] and batch[3][0].id == batch[2][0].id
    assert await store.pool.fetchval("SELECT count(*) FROM workflow_signals WHERE user_id = $1", user) == 3
    assert await store.latest_seq(user) == 3  # a refused key takes no seq


async def test_every_month_answers_a_lookup_by_id_from_an_index(store):
    user = uuid.uuid4()
    [signal] = await emit(store, user, 1)
    months = [r[0] for r in await store.pool.fetch(PARTITIONS)]
    indexed = await store.pool.fetch(
        "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] "
        "WHERE a.attname = 'id' AND i.indisunique AND c.relname = ANY($1::text[]) ORDER BY 1", months)
    assert [r[0] for r in indexed] == months
    assert (await store.get(user, signal.id)).id == signal.id
    assert (await store.mark_read(user, signal.id)).read
    assert await store.get(uuid.uuid4(), signal.id) is None


# The migration, on a table populated before it.

def _upgrade(url: str, revision: str) -> None:
    from alembic import command

    command.upgrade(_config(url, "signalhub"), revision)


ROWS = "SELECT * FROM workflow_signals ORDER BY user_id, seq"


@pytest.fixture
def unmigrated_url(server_url):
    with scratch_database(server_url, "signalhub_partition_migration", migrate=False) as url:
        yield url


async def test_migrating_a_populated_table_keeps_every_row_id_seq_and_inbox_state(unmigrated_url):
    url = unmigrated_url
    await asyncio.to_thread(_upgrade, url, "0004")
    pool = await create_pool(url, max_size=2)
    try:
        inbox = InboxStateStore(pool)
        users = [uuid.uuid4(), uuid.uuid4()]
        signals = {}
        for u in users:  # as the code before 0006 stored them
            signals[u] = [SimpleNamespace(id=r["id"]) for r in await pool.fetch(
                "INSERT INTO workflow_signals (user_id, seq, workflow_id, signal_type, data, idempotency_key) "
                "SELECT $1, g, 'wf', 'progress', jsonb_build_object('i', g), "
                "CASE WHEN g % 2 = 0 THEN 'k-' || (g - 1) END FROM generate_series(1, 12) g RETURNING id", u)]
            await pool.execute("INSERT INTO workflow_signal_seqs VALUES ($1, 12)", u)
        # Months back, a year back and in the future: each month gets its partition.
        await pool.execute("UPDATE workflow_signals SET created_at = now() - interval '400 days' WHERE seq <= 3")
        await pool.execute("UPDATE workflow_signals SET created_at = now() - interval '40 days' WHERE seq IN (4, 5)")
        await pool.execute("UPDATE workflow_signals SET created_at = now() + interval '1 day' WHERE seq = 12")
        user = users[0]
        await inbox.apply(user, "read", Target(ids=(signals[user][0].id, signals[user][6].id)))
        await inbox.apply(user, "seen", Target(ids=(signals[user][7].id,)))
        await inbox.apply(user, "archive", Target(ids=(signals[user][8].id,)))
        await inbox.apply(user, "delete", Target(ids=(signals[user][9].id,)))
        rows_before = [dict(r) for r in await pool.fetch(ROWS)]
        counts_before = {u: await inbox.counts(u) for u in users}
        seqs_before = await pool.fetch("SELECT * FROM workflow_signal_seqs ORDER BY user_id")
    finally:
        await pool.close()

    await asyncio.to_thread(_upgrade, url, "head")

    pool = await create_pool(url, max_size=2)
    try:
        store, inbox = SignalStore(pool), InboxStateStore(pool)
        assert await pool.fetchval("SELECT relkind FROM pg_class WHERE oid = 'workflow_signals'::regclass") == b"p"
        assert [dict(r) for r in await pool.fetch(ROWS)] == rows_before
        assert {u: await inbox.counts(u) for u in users} == counts_before
        assert await pool.fetch("SELECT * FROM workflow_signal_seqs ORDER BY user_id") == seqs_before
        homes = await pool.fetch("SELECT DISTINCT tableoid::regclass::text FROM workflow_signals")
        assert len(homes) >= 3 and "workflow_signals_default" not in {h[0] for h in homes}
        # Keys made before the migration still stop a retry; ids still find their rows.
        twin, created = await store.insert(NewSignal.create(user, "progress", "wf", {"progress": 0.5}, "k-1"))
        assert not created and twin.id == signals[user][1].id
        assert (await store.mark_read(user, signals[user][2].id)).read
        assert await store.get(user, signals[user][9].id) is None  # still deleted
        fresh, created = await store.insert(NewSignal.create(user, "progress", "wf", {"progress": 0.5}, "k-new"))
        assert created and fresh.seq == 13
    finally:
        await pool.close()


async def test_a_month_read_directly_instead_of_through_the_parent_shows_nothing(store):
    user = uuid.uuid4()
    await emit(store, user, 1)
    month = await month_of(store, 0)
    async with store.pool.acquire() as conn, conn.transaction():
        await conn.execute(f"GRANT SELECT ON {month} TO authenticated")
        await conn.execute("SET LOCAL ROLE authenticated")
        await conn.execute("SELECT set_config('request.jwt.claims', $1, true)", f'{{"sub": "{user}"}}')
        assert await conn.fetchval("SELECT count(*) FROM workflow_signals") == 1  # own row, through the parent
        assert await conn.fetchval(f"SELECT count(*) FROM {month}") == 0
        await conn.execute("RESET ROLE")
        await conn.execute(f"REVOKE SELECT ON {month} FROM authenticated")
