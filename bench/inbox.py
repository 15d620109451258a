"""Inbox queries at scale: bulk-load rows with generate_series, then time the
first page, the unread count, the counts (unread/unseen/total) and the
archived tab of one user, in the database (SignalStore, InboxStateStore) and
through the REST API.

The rows are spread over the last `SPREAD_DAYS` days, one partition per month (as a
table that has grown for months under the default 90-day retention looks): no query
of the inbox names created_at, so each one reads every month's index."""

from __future__ import annotations

import asyncio
import time
import uuid

from .scenarios import percentile

MEASURED_USER = uuid.UUID("00000000-0000-4000-8000-00000000beef")
NOISE_USERS = 10_000
UNREAD_EVERY = 10  # the measured user: one in ten unread (the read ones are seen too)
ARCHIVED_EVERY = 7  # ... and one in seven archived
SPREAD_DAYS = 90
SPREAD_SECONDS = SPREAD_DAYS * 86400

_LOAD_USER = """
INSERT INTO workflow_signals (user_id, seq, workflow_id, signal_type, data, timestamp, read, created_at,
                              seen_at, archived_at)
SELECT $1, g, 'wf-' || (g % 500), 'status_update',
       jsonb_build_object('status', 'running', 'message', 'step ' || g),
       now() - make_interval(secs => $2 - g), (g % $3) <> 0,
       now() - make_interval(secs => ($2 - g)::float8 * $5 / $2),
       CASE WHEN (g % $3) <> 0 THEN now() END, CASE WHEN g % $4 = 0 THEN now() END
FROM generate_series(1, $2) g
"""

_LOAD_NOISE = """
INSERT INTO workflow_signals (user_id, seq, workflow_id, signal_type, data, timestamp, read, created_at)
SELECT md5('noise-' || (g % $1))::uuid, $2 + g / $1 + 1, 'wf-' || (g % 997), 'progress',
       jsonb_build_object('progress', (g % 100) / 100.0), now(), (g % 3) <> 0,
       now() - make_interval(secs => ((g::bigint * 7919) % $4)::float8)
FROM generate_series(0, $3 - 1) g
"""


async def _load(database_url: str, user_rows: int, total_rows: int, loaded: int) -> float:
    from signalhub.store import connect

    started = time.monotonic()
    conn = await connect(database_url)
    try:
        if loaded == 0:
            await conn.execute("SELECT workflow_signals_add_partitions(now() - make_interval(secs => $1), now())",
                               float(SPREAD_SECONDS))
            await conn.execute(_LOAD_USER, MEASURED_USER, user_rows, UNREAD_EVERY, ARCHIVED_EVERY,
                               float(SPREAD_SECONDS), timeout=3600)
            await conn.execute(
                "INSERT INTO workflow_signal_seqs (user_id, last_seq) VALUES ($1, $2)", MEASURED_USER, user_rows
            )
            loaded = user_rows
        noise = total_rows - loaded
        if noise > 0:
            # Each noise batch continues the noise users' seqs after the previous batches.
            offset = -(-(loaded - user_rows) // NOISE_USERS) + 1
            await conn.execute(_LOAD_NOISE, NOISE_USERS, offset, noise, SPREAD_SECONDS, timeout=3600)
        await conn.execute("VACUUM ANALYZE workflow_signals", timeout=3600)
    finally:
        await conn.close()
    return time.monotonic() - started


async def _partitions(database_url: str) -> int:
    from signalhub.store import connect

    conn = await connect(database_url)
    try:
        return int(await conn.fetchval(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'workflow_signals'::regclass"))
    finally:
        await conn.close()


async def _time_store(database_url: str, queries: int) -> dict:
    from signalhub.store import InboxFilter, SignalStore, create_pool
    from signalhub.store_inbox import InboxStateStore

    pool = await create_pool(database_url, max_size=2)
    store = SignalStore(pool)
    state = InboxStateStore(pool)
    archived = InboxFilter(archived=True)
    try:
        out = {}
        for name, call in (("first_page", lambda: store.page(MEASURED_USER, limit=50)),
                           ("unread_count", lambda: store.unread_count(MEASURED_USER)),
                           ("counts", lambda: state.counts(MEASURED_USER)),
                           ("archived_page", lambda: store.page(MEASURED_USER, limit=50, where=archived))):
            for _ in range(min(20, queries)):
                await call()  # warm caches and prepared statements
            samples = []
            for _ in range(queries):
                t = time.perf_counter()
                await call()
                samples.append((time.perf_counter() - t) * 1000)
            out[name] = {"p50_ms": percentile(samples, 50), "p99_ms": percentile(samples, 99)}
        out["unread"] = await store.unread_count(MEASURED_USER)
        return out
    finally:
        await pool.close()


def _time_http(port: int, token: str, queries: int) -> dict:
    import httpx

    out = {}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"},
                      timeout=30) as client:
        for name, path in (("first_page", "/api/v1/inbox/signals?limit=50"),
                           ("unread_count", "/api/v1/inbox/signals/unread-count"),
                           ("counts", "/api/v1/inbox/counts")):
            for _ in range(min(20, queries)):
                client.get(path).raise_for_status()
            samples = []
            for _ in range(queries):
                t = time.perf_counter()
                client.get(path).raise_for_status()
                samples.append((time.perf_counter() - t) * 1000)
            out[name] = {"p50_ms": percentile(samples, 50), "p99_ms": percentile(samples, 99)}
    return out


def inbox(database_url: str, sizes, log_dir) -> list[dict]:
    from signalhub.auth import mint_user_token

    from .systems import SECRET, running

    results = []
    loaded = 0
    for total in sizes.inbox_rows:
        load_seconds = asyncio.run(_load(database_url, sizes.inbox_user_rows, total, loaded))
        loaded = total
        store = asyncio.run(_time_store(database_url, sizes.inbox_queries))
        with running("signalhub", log_dir, database_url=database_url) as api:
            http = _time_http(api.port, mint_user_token(SECRET, MEASURED_USER), sizes.inbox_queries)
        results.append({
            "table_rows": total, "user_rows": sizes.inbox_user_rows, "user_unread": store.pop("unread"),
            "load_seconds": load_seconds, "database": store, "http": http, "queries": sizes.inbox_queries,
            "partitions": asyncio.run(_partitions(database_url)),
        })
    return results
