"""The inbox statements that run on PostgreSQL's cached plan stay right for a heavy user.

After five calls a prepared statement may switch to its generic plan, made once for any
user from the table's average. On the monthly-partitioned table that plan must still read
a page of a user with thousands of signals, not sort all of them: here one user has
20,000 signals over four months among 5,000 users with two each (the average user has
fewer signals than a page, which is what tempts a planner into append-and-sort).

Runs on a database of its own (it fills past months)."""

from __future__ import annotations

import json
import uuid

import pytest

from signalhub.migrations import scratch_database
from signalhub.store import _AFTER, InboxFilter, SignalStore, create_pool, page_statement

HEAVY = uuid.UUID("00000000-0000-4000-8000-0000000000aa")
HEAVY_ROWS = 20_000
LIGHT_USERS = 5_000
SPREAD_SECONDS = 90 * 86400

_LOAD = f"""
INSERT INTO workflow_signals (user_id, seq, workflow_id, signal_type, data, read, created_at, seen_at, archived_at)
SELECT '{HEAVY}', g, 'wf-' || (g % 50), 'progress', '{{}}', g % 10 <> 0,
       now() - make_interval(secs => ({HEAVY_ROWS} - g)::float8 * {SPREAD_SECONDS} / {HEAVY_ROWS}),
       CASE WHEN g % 10 <> 0 THEN now() END, CASE WHEN g % 7 = 0 THEN now() END
FROM generate_series(1, {HEAVY_ROWS}) g;
INSERT INTO workflow_signals (user_id, seq, workflow_id, signal_type, data, created_at)
SELECT md5('light-' || (g % {LIGHT_USERS}))::uuid, g / {LIGHT_USERS} + 1, 'wf', 'progress', '{{}}',
       now() - make_interval(secs => ((g::bigint * 7919) % {SPREAD_SECONDS})::float8)
FROM generate_series(0, {2 * LIGHT_USERS - 1}) g;
"""

PAGE = 50
# A page, plus at most one row more from each partition and the rows a tab's filter skips:
# far below the heavy user's 20,000.
MAX_ROWS_READ = 1_000

CACHED = {
    "default list": {},
    "archived tab": {"where": InboxFilter(archived=True)},
    "both": {"where": InboxFilter(archived=None)},
    "unread tab": {"where": InboxFilter(read=False)},
    "read": {"where": InboxFilter(read=True)},
    "unseen": {"where": InboxFilter(seen=False)},
    "cursor": {"cursor": HEAVY_ROWS // 2},
    "offset": {"offset": 200},
}


@pytest.fixture(scope="module")
def own_database_url(server_url):
    with scratch_database(server_url, "signalhub_plans") as url:
        yield url


@pytest.fixture
async def conn(own_database_url):
    pool = await create_pool(own_database_url, max_size=1)
    try:
        async with pool.acquire() as conn:
            if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM workflow_signals)"):
                await conn.execute(
                    "SELECT workflow_signals_add_partitions(now() - make_interval(secs => $1), now())",
                    float(SPREAD_SECONDS))
                await conn.execute(_LOAD)
                await conn.execute("ANALYZE workflow_signals")
            yield conn
    finally:
        await pool.close()


async def generic_plan(conn, query: str, args: list) -> dict:
    """EXPLAIN ANALYZE of `query` run on its generic plan (as a cached statement may be)."""
    await conn.execute("DEALLOCATE ALL")
    await conn.execute(f"PREPARE inbox_statement AS {query}")
    await conn.execute("SET plan_cache_mode = force_generic_plan")
    try:
        values = ", ".join(str(a) if isinstance(a, int) else f"'{a}'" for a in args)  # uuids and ints
        explained = await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE inbox_statement({values})")
    finally:
        await conn.execute("RESET plan_cache_mode")
        await conn.execute("DEALLOCATE inbox_statement")
    return (json.loads(explained) if isinstance(explained, str) else explained)[0]["Plan"]


def nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def rows_read(plan: dict) -> int:
    """Rows the scans of the partitions returned (before the merge and the LIMIT)."""
    return sum(int(n["Actual Rows"] * n["Actual Loops"]) for n in nodes(plan) if "Scan" in n["Node Type"])


@pytest.mark.parametrize("shape", CACHED)
async def test_cached_inbox_page_reads_a_page_of_a_heavy_user_on_the_generic_plan(conn, shape):
    query, args, per_call = page_statement(HEAVY, limit=PAGE, **CACHED[shape])
    assert not per_call
    plan = await generic_plan(conn, query, args)
    kinds = {n["Node Type"] for n in nodes(plan)}
    assert "Sort" not in kinds and "Merge Append" in kinds, kinds
    assert plan["Actual Rows"] == PAGE + 1
    assert rows_read(plan) <= MAX_ROWS_READ + CACHED[shape].get("offset", 0)


async def test_resume_after_a_seq_reads_a_page_of_a_heavy_user_on_the_generic_plan(conn):
    plan = await generic_plan(conn, _AFTER, [HEAVY, HEAVY_ROWS // 3, 100])
    kinds = {n["Node Type"] for n in nodes(plan)}
    assert "Sort" not in kinds and "Merge Append" in kinds, kinds
    assert plan["Actual Rows"] == 100 and rows_read(plan) <= MAX_ROWS_READ


async def test_a_literal_limit_would_make_the_generic_plan_sort_the_heavy_users_rows(conn):
    """Why page_statement keeps the LIMIT a parameter: this data does expose the failure."""
    query, args, _ = page_statement(HEAVY, limit=PAGE)
    literal = query.replace(f"LIMIT ${len(args)}", f"LIMIT {PAGE + 1}")
    plan = await generic_plan(conn, literal, args[:-1])
    assert "Sort" in {n["Node Type"] for n in nodes(plan)}
    assert rows_read(plan) > HEAVY_ROWS // 2


@pytest.mark.parametrize("where", [InboxFilter(signal_type="progress"), InboxFilter(workflow_id="wf-1")])
async def test_a_value_filter_is_planned_per_call(where):
    assert page_statement(HEAVY, limit=PAGE, where=where)[2]


def test_the_first_page_has_no_offset_and_a_later_one_has_its_own():
    first, first_args, _ = page_statement(HEAVY, limit=PAGE)
    assert "OFFSET" not in first and first_args == [HEAVY, PAGE + 1]
    later, later_args, _ = page_statement(HEAVY, limit=PAGE, offset=100)
    assert later.endswith("LIMIT $2 OFFSET $3") and later_args == [HEAVY, PAGE + 1, 100]


async def test_the_first_page_runs_on_the_cached_generic_plan(own_database_url, conn):
    """No planning per call: after PostgreSQL's five custom plans the statement keeps its generic one."""
    pool = await create_pool(own_database_url, max_size=1)
    try:
        store = SignalStore(pool)
        for _ in range(10):
            page = await store.page(HEAVY, limit=PAGE)
        assert [s.seq for s in page.signals] == [g for g in range(HEAVY_ROWS, 0, -1) if g % 7][:PAGE]  # 7th: archived
        async with pool.acquire() as c:
            plans = await c.fetchrow(
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = $1",
                page_statement(HEAVY, limit=PAGE)[0])
        assert plans["custom_plans"] == 5 and plans["generic_plans"] == 5
    finally:
        await pool.close()
