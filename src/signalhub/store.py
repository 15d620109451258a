"""PostgreSQL storage for signals (asyncpg): idempotent insert with a per-user
seq, replay after a seq, and the inbox queries.

Guarantees:
- `insert` assigns `seq` under the user's counter-row lock, so a user's seqs
  increase in commit order: whoever has seen seq N and asks for `seq > N`
  later can never miss a row that committed in between.
- a second insert with the same `(user_id, idempotency_key)` stores nothing
  and returns the first signal with `created=False`.
- with `notify_channel`, the row and its NOTIFY commit in one statement, so a
  listener never hears of a row it cannot read, and hears in commit order.
- every query is scoped by `user_id`; another user's id behaves as missing.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import asyncpg

from .faults import GuardedConnection, QueryOutcomes, connect_or_unavailable
from .hostpool import Queries
from .settings import DEFAULT_DB_SCHEMA
from .signals import MAX_DATA_DEPTH, UNSERVABLE_DATA, NewSignal, Signal, servable_data
from .wire import dumps, notify_parts, signal_json_head, signal_json_tail

# NOTIFY payloads must stay under 8000 bytes; bigger signals are announced by seq only.
MAX_NOTIFY_BYTES = 7900

_COLUMNS = ("id, user_id, seq, signal_type, workflow_id, data, timestamp, read, read_at, created_at, "
            "seen_at, archived_at")

# Deleted signals stay as tombstones (store_inbox.py says why); nothing but retention sees them.
NOT_DELETED = "deleted_at IS NULL"

# The idempotency key is claimed first (workflow_signal_idempotency_keys, 0006): only a signal
# whose key was free (or that has none) takes a seq and a row. A concurrent emit of the same key
# waits on the claim and finds the first signal once it committed.
_INSERT = f"""
WITH claimed AS (
    INSERT INTO workflow_signal_idempotency_keys (user_id, idempotency_key, signal_id)
    SELECT $1, $7, $2 WHERE $7::text IS NOT NULL
    ON CONFLICT DO NOTHING
    RETURNING signal_id
), next AS (
    INSERT INTO workflow_signal_seqs AS s (user_id, last_seq)
    SELECT $1, 1 WHERE $7::text IS NULL OR EXISTS (SELECT 1 FROM claimed)
    ON CONFLICT (user_id) DO UPDATE SET last_seq = s.last_seq + 1
    RETURNING last_seq
), ins AS (
    INSERT INTO workflow_signals
        (id, user_id, seq, workflow_id, signal_type, data, timestamp, idempotency_key)
    SELECT $2, $1, next.last_seq, $3, $4, $5::text::jsonb, $6, $7 FROM next
    RETURNING {_COLUMNS}
)
SELECT ins.*,
       CASE WHEN $8::text IS NOT NULL
            THEN pg_notify($8, $9::text || ins.seq || $10::text || coalesce(ins.seq || $11::text, '')) END AS notified
FROM ins
"""

# The signal a key was claimed by (the sub-select is an init plan: its id prunes nothing, but
# each partition answers from its primary-key index).
_BY_KEY = f"""
SELECT {_COLUMNS} FROM workflow_signals
WHERE user_id = $1 AND id = (
    SELECT signal_id FROM workflow_signal_idempotency_keys WHERE user_id = $1 AND idempotency_key = $2
)
"""

# The batched twin of _INSERT: one statement, one commit, for many signals (of any users).
# Seqs are handed out per user in input order under each counter-row lock (taken in
# user_id order, so concurrent batches cannot deadlock); a row whose idempotency key
# is claimed already takes no seq and no row.
_INSERT_MANY = """
WITH input AS (
    SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::timestamptz[],
                         $7::text[], $8::text[], $9::text[], $10::text[])
        WITH ORDINALITY AS t(user_id, id, workflow_id, signal_type, data, ts, idempotency_key,
                             notify_prefix, notify_head, notify_tail, ord)
), claimed AS (
    -- In key order, so that concurrent batches claim in the same order (no deadlock); of two
    -- rows with one key in this batch, the first claims it.
    INSERT INTO workflow_signal_idempotency_keys (user_id, idempotency_key, signal_id)
    SELECT user_id, idempotency_key, id FROM input WHERE idempotency_key IS NOT NULL
    ORDER BY user_id, idempotency_key, ord
    ON CONFLICT DO NOTHING
    RETURNING signal_id
), fresh AS (
    SELECT i.* FROM input i
    WHERE i.idempotency_key IS NULL OR i.id IN (SELECT signal_id FROM claimed)
), counts AS (
    SELECT user_id, count(*) AS n FROM fresh GROUP BY user_id
), bumped AS (
    INSERT INTO workflow_signal_seqs AS s (user_id, last_seq)
    SELECT user_id, n FROM counts ORDER BY user_id
    ON CONFLICT (user_id) DO UPDATE SET last_seq = s.last_seq + EXCLUDED.last_seq
    RETURNING user_id, last_seq
), numbered AS (
    SELECT f.*, b.last_seq - c.n + row_number() OVER (PARTITION BY f.user_id ORDER BY f.ord) AS seq
    FROM fresh f JOIN counts c USING (user_id) JOIN bumped b USING (user_id)
), ins AS (
    INSERT INTO workflow_signals
        (id, user_id, seq, workflow_id, signal_type, data, timestamp, idempotency_key)
    SELECT id, user_id, seq, workflow_id, signal_type, data::jsonb, ts, idempotency_key
    FROM numbered ORDER BY user_id, seq
    RETURNING id, user_id, seq, created_at
)
SELECT ins.id, ins.seq, ins.created_at, n.ord,
       CASE WHEN $11::text IS NOT NULL
            THEN pg_notify($11, n.notify_prefix || ins.seq || n.notify_head
                                || coalesce(ins.seq || n.notify_tail, '')) END AS notified
FROM ins JOIN numbered n ON n.id = ins.id
ORDER BY ins.user_id, ins.seq
"""


# A socket's resume: the user's signals after a seq, oldest first. Without a workflow filter it
# runs on a cached plan (right for every user, see `page_statement`); with one it is planned per call.
_AFTER = f"SELECT {_COLUMNS} FROM workflow_signals WHERE user_id = $1 AND seq > $2 AND {NOT_DELETED} ORDER BY seq LIMIT $3"
_AFTER_IN_WORKFLOWS = (f"SELECT {_COLUMNS} FROM workflow_signals WHERE user_id = $1 AND seq > $2 "
                       f"AND workflow_id = ANY($4::text[]) AND {NOT_DELETED} ORDER BY seq LIMIT $3")


#: A signal's text after its seq and that text's UTF-8 length, by what it is made of.
_Tails = dict[tuple[str, str, str, datetime], tuple[str, int]]


def _notify_parts(new: NewSignal, tails: _Tails | None = None) -> tuple[str, str, str | None]:
    """`wire.notify_parts` for one new signal: too big for NOTIFY, it is announced
    as "user, seq" and the receiver reads the row. `tails`: one write's cache, so one
    signal to many users (they differ only in id and user) makes its tail once."""
    data_json = new.encoded_data()
    key = (new.signal_type, new.workflow_id, data_json, new.timestamp)
    if tails is None or (tail := tails.get(key)) is None:
        text = signal_json_tail(new.signal_type, new.workflow_id, data_json, new.timestamp)
        tail = (text, len(text.encode()))
        if tails is not None:
            tails[key] = tail
    return notify_parts(new.user_id, signal_json_head(new.id), tail[0], limit=MAX_NOTIFY_BYTES, tail_bytes=tail[1])


def _json(value: Any) -> Any:
    # jsonb arrives decoded from signalhub's own pool (its codec) and as text from
    # a pool the host app hands over (asyncpg's default): both are accepted, decoded
    # the same way, and the host's connections are never given signalhub's codec.
    return _decode_jsonb(value) if isinstance(value, str) else value


async def fetch_planned_per_call(pool: Any, query: str, *args: Any) -> list[asyncpg.Record]:
    """`pool.fetch`, planned for these arguments every time (`plan_cache_mode =
    force_custom_plan`, for this statement's transaction only).

    For the inbox statements that filter on a value (a signal type, a workflow, a time
    range): how many of the user's rows match depends on the value, and only a plan made
    for it knows (a rare workflow is found through its own index, a common one by walking
    the user's seqs). A prepared statement's generic plan guesses instead; for a heavy
    user and a rare value that measured 36 ms against 24 ms (signal type) and 7.9 against
    2.7 ms (a socket's resume by workflow). Planning anew costs ~0.3 ms plus three round
    trips (BEGIN, SET LOCAL, COMMIT). The statements without such a filter run on cached
    plans instead (`SignalStore.page`, docs/scaling.md).
    """
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        return await conn.fetch(query, *args)


def _signal(row: asyncpg.Record) -> Signal:
    return Signal(
        id=row["id"],
        user_id=row["user_id"],
        seq=row["seq"],
        signal_type=row["signal_type"],
        workflow_id=row["workflow_id"],
        data=_json(row["data"]),
        timestamp=row["timestamp"],
        read=row["read"],
        read_at=row["read_at"],
        created_at=row["created_at"],
        seen_at=row["seen_at"],
        archived_at=row["archived_at"],
    )


def _decode_jsonb(text: str) -> Any:
    """A signal's `data`. Stored before `MAX_DATA_DEPTH` existed, it may nest deeper than
    can be served (or parsed): then it reads as `UNSERVABLE_DATA`, for the inbox and replays alike."""
    if text.count("{") + text.count("[") <= MAX_DATA_DEPTH:  # the common case: cannot be too deep
        return json.loads(text)
    try:
        return servable_data(json.loads(text))
    except RecursionError:  # deeper than Python's JSON parser recurses
        return dict(UNSERVABLE_DATA)


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=dumps, decoder=_decode_jsonb, schema="pg_catalog")


def connection_options(schema: str = DEFAULT_DB_SCHEMA, *, prepared_statements: bool = True) -> dict[str, Any]:
    """asyncpg connect options every signalhub connection uses.

    search_path is signalhub's schema alone, set as a start-up parameter (so it
    holds before the first statement and for the whole session): the SQL stays
    unqualified and can never resolve to a host application's table of the
    same name. Without prepared statements (`statement_cache_size=0`) the
    connection works through a transaction pooler (Supavisor, PgBouncer).
    """
    options: dict[str, Any] = {"server_settings": {"search_path": schema}}
    if not prepared_statements:
        options["statement_cache_size"] = 0
    return options


def libpq_options(schema: str = DEFAULT_DB_SCHEMA) -> str:
    """PGOPTIONS for psql and other libpq tools: signalhub's schema first, then public
    (an interactive session may still want the host's own tables)."""
    return f"-c search_path={schema},public"


def settings_options(settings: Any) -> dict[str, Any]:
    """`connection_options` for a `Settings` (schema and prepared statements)."""
    return connection_options(settings.db_schema, prepared_statements=settings.db_prepared_statements)


async def connect(
    database_url: str, *, schema: str = DEFAULT_DB_SCHEMA, prepared_statements: bool = True
) -> asyncpg.Connection:
    """One connection whose search_path is signalhub's schema (see `connection_options`)."""
    return await asyncpg.connect(
        database_url, **connection_options(schema, prepared_statements=prepared_statements)
    )


async def create_pool(
    database_url: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    schema: str = DEFAULT_DB_SCHEMA,
    prepared_statements: bool = True,
    outcomes: QueryOutcomes | None = None,
) -> asyncpg.Pool:
    """The pool every signalhub query runs on, with signalhub's search_path; connection
    failures come out as `faults.Unavailable` and a broken connection is never reused (faults.py).
    `outcomes`: where its connections record each query's success or outage (readiness reads it)."""

    async def init(conn: asyncpg.Connection) -> None:
        cast(GuardedConnection, conn).outcomes = outcomes  # the pool's connection_class, below
        await _init_connection(conn)

    async def connect(*args: Any, **kwargs: Any) -> asyncpg.Connection:
        try:
            return await connect_or_unavailable(*args, **kwargs)
        except Exception:
            if outcomes is not None:
                outcomes.failed_at = time.monotonic()
            raise

    return await asyncpg.create_pool(
        database_url,
        min_size=min_size,
        max_size=max_size,
        init=init,
        connection_class=GuardedConnection,
        connect=connect,
        **connection_options(schema, prepared_statements=prepared_statements),
    )


@dataclass(frozen=True, slots=True)
class InboxFilter:
    signal_type: str | None = None
    workflow_id: str | None = None
    read: bool | None = None
    since: datetime | None = None
    until: datetime | None = None
    #: False: not archived (the default list); True: archived only; None: both.
    archived: bool | None = False
    seen: bool | None = None


@dataclass(frozen=True, slots=True)
class InboxPage:
    signals: list[Signal]
    has_more: bool
    next_cursor: str | None


def page_statement(
    user_id: uuid.UUID,
    *,
    limit: int,
    offset: int = 0,
    cursor: int | None = None,
    where: InboxFilter = InboxFilter(),
) -> tuple[str, list[Any], bool]:
    """The SQL and arguments of `SignalStore.page`, and whether it is planned per call.

    Without a value filter (the default list, the unread, unseen and archived tabs, a
    cursor, an offset) the statement runs on PostgreSQL's cached plan: after five calls a
    prepared statement may switch to its generic plan, made once for any user. That plan
    must then be right for a user with 100,000 signals as for one with five, so:

    - the LIMIT stays a parameter. PostgreSQL plans an unknown LIMIT as "a tenth of the
      rows", which keeps the ordered merge of every month's (user_id, seq) index: it reads
      a page, whatever the user. Written as a literal, the generic plan knows the page size,
      and where most users have fewer signals than a page it appends and sorts all of the
      user's rows instead: 32-43 ms for a heavy user on the bench table with such statistics
      (tests/test_store_plans.py shows the sort);
    - read, seen and archived are written into the text, so that the plan uses the
      partial index of that tab (`NOT read` matches idx_workflow_signals_user_unread_seq;
      `read = $2` could not);
    - OFFSET is left out when 0 (an unknown OFFSET is also planned as a tenth of the rows,
      which made the generic plan look dearer than planning per call).

    A value filter (signal type, workflow, time range) is planned per call
    (`fetch_planned_per_call`).
    """
    clauses = ["user_id = $1", NOT_DELETED]
    args: list[Any] = [user_id]

    def add(sql: str, value: Any) -> None:
        args.append(value)
        clauses.append(sql.format(f"${len(args)}"))

    if cursor is not None:
        add("seq < {}", cursor)
    if where.read is not None:
        clauses.append("read" if where.read else "NOT read")
    if where.archived is not None:
        clauses.append("archived_at IS NOT NULL" if where.archived else "archived_at IS NULL")
    if where.seen is not None:
        clauses.append("seen_at IS NOT NULL" if where.seen else "seen_at IS NULL")
    cached_args = len(args)
    if where.signal_type is not None:
        add("signal_type = {}", where.signal_type)
    if where.workflow_id is not None:
        add("workflow_id = {}", where.workflow_id)
    if where.since is not None:
        add("timestamp >= {}", where.since)
    if where.until is not None:
        add("timestamp < {}", where.until)
    per_call = len(args) > cached_args
    args.append(limit + 1)
    query = f"SELECT {_COLUMNS} FROM workflow_signals WHERE {' AND '.join(clauses)} ORDER BY seq DESC LIMIT ${len(args)}"
    if offset:
        args.append(offset)
        query += f" OFFSET ${len(args)}"
    return query, args, per_call


class SignalStore:
    """All SQL the service runs. Safe for concurrent use (one asyncpg pool)."""

    def __init__(self, pool: Queries) -> None:
        self.pool = pool

    async def insert(self, new: NewSignal, *, notify_channel: str | None = None) -> tuple[Signal, bool]:
        """Store `new` (or find its twin by idempotency key); return it and whether it is new."""
        notify_args = _notify_parts(new)
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(
                _INSERT,
                new.user_id,
                new.id,
                new.workflow_id,
                new.signal_type,
                dumps(new.data),
                new.timestamp,
                new.idempotency_key,
                notify_channel,
                *notify_args,
            )
            if row is not None:
                return _signal(row), True
            existing = await conn.fetchrow(_BY_KEY, new.user_id, new.idempotency_key)
        if existing is None:  # pragma: no cover - the unique constraint makes this impossible
            raise RuntimeError("idempotent insert found neither a new nor an existing row")
        return _signal(existing), False

    async def insert_many(
        self, news: list[NewSignal], *, notify_channel: str | None = None
    ) -> list[tuple[Signal, bool]]:
        """Store many signals in one statement and one commit (the batched `insert`).

        Same guarantees as `insert`, per signal: results come back in input order;
        a signal whose idempotency key is stored already comes back with
        `created=False`; NOTIFYs are sent (in seq order per user) at commit.
        Under load this turns N round trips and N commits into one of each.
        """
        if not news:
            return []
        columns: list[list[Any]] = [[] for _ in range(10)]
        tails: _Tails = {}
        for new in news:
            values = (new.user_id, new.id, new.workflow_id, new.signal_type, new.encoded_data(),
                      new.timestamp, new.idempotency_key, *_notify_parts(new, tails))
            for column, value in zip(columns, values, strict=True):
                column.append(value)
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(_INSERT_MANY, *columns, notify_channel)
            out: list[tuple[Signal, bool] | None] = [None] * len(news)
            for row in rows:
                # Only what the database decided comes back; the rest is the signal as sent
                # (decoding every row's data again would cost more than the insert).
                new = news[row["ord"] - 1]
                out[row["ord"] - 1] = (Signal(
                    id=new.id, user_id=new.user_id, seq=row["seq"], signal_type=new.signal_type,
                    workflow_id=new.workflow_id, data=new.data, timestamp=new.timestamp,
                    created_at=row["created_at"]), True)
            for index, new in enumerate(news):
                if out[index] is None:
                    existing = await conn.fetchrow(_BY_KEY, new.user_id, new.idempotency_key)
                    if existing is None:  # pragma: no cover - the unique constraint makes this impossible
                        raise RuntimeError("batched insert found neither a new nor an existing row")
                    out[index] = (_signal(existing), False)
        return cast(list[tuple[Signal, bool]], out)  # every index was filled above

    async def after(
        self, user_id: uuid.UUID, seq: int, limit: int, *, workflow_ids: list[str] | None = None
    ) -> list[Signal]:
        """The user's signals with seq > `seq`, oldest first, at most `limit`
        (only those of `workflow_ids` when given: a filtered socket's resume)."""
        if workflow_ids:
            rows = await fetch_planned_per_call(self.pool, _AFTER_IN_WORKFLOWS, user_id, seq, limit, workflow_ids)
        else:
            rows = await self.pool.fetch(_AFTER, user_id, seq, limit)
        return [_signal(r) for r in rows]

    async def latest_seq(self, user_id: uuid.UUID) -> int:
        """The highest seq handed out to the user (0 when none)."""
        value = await self.pool.fetchval(
            "SELECT last_seq FROM workflow_signal_seqs WHERE user_id = $1", user_id
        )
        return int(value or 0)

    async def get(self, user_id: uuid.UUID, signal_id: uuid.UUID) -> Signal | None:
        row = await self.pool.fetchrow(
            f"SELECT {_COLUMNS} FROM workflow_signals WHERE user_id = $1 AND id = $2 AND {NOT_DELETED}",
            user_id,
            signal_id,
        )
        return _signal(row) if row else None

    async def page(
        self,
        user_id: uuid.UUID,
        *,
        limit: int,
        offset: int = 0,
        cursor: int | None = None,
        where: InboxFilter = InboxFilter(),
    ) -> InboxPage:
        """Newest first. `cursor` is the seq of the last signal already seen (keyset)."""
        query, args, per_call = page_statement(user_id, limit=limit, offset=offset, cursor=cursor, where=where)
        if per_call:
            rows = await fetch_planned_per_call(self.pool, query, *args)
        else:
            rows = await self.pool.fetch(query, *args)
        signals = [_signal(r) for r in rows[:limit]]
        has_more = len(rows) > limit
        next_cursor = str(signals[-1].seq) if has_more and signals else None
        return InboxPage(signals, has_more, next_cursor)

    async def unread_count(self, user_id: uuid.UUID) -> int:
        """Unread among the user's live (not archived, not deleted) signals, from the kept counts."""
        value = await self.pool.fetchval("SELECT unread FROM workflow_signal_counts WHERE user_id = $1", user_id)
        return int(value or 0)

    async def mark_read(self, user_id: uuid.UUID, signal_id: uuid.UUID) -> Signal | None:
        """Mark one of the user's signals read (idempotent); None when it is not theirs."""
        row = await self.pool.fetchrow(
            f"""
            WITH upd AS (
                UPDATE workflow_signals
                SET read = TRUE, read_at = now(), seen_at = coalesce(seen_at, now()), updated_at = now()
                WHERE user_id = $1 AND id = $2 AND NOT read AND {NOT_DELETED}
                RETURNING {_COLUMNS}
            )
            SELECT {_COLUMNS} FROM upd
            UNION ALL
            SELECT {_COLUMNS} FROM workflow_signals
            WHERE user_id = $1 AND id = $2 AND {NOT_DELETED} AND NOT EXISTS (SELECT 1 FROM upd)
            """,
            user_id,
            signal_id,
        )
        return _signal(row) if row else None

    async def mark_all_read(self, user_id: uuid.UUID) -> int:
        status = await self.pool.execute(
            "UPDATE workflow_signals SET read = TRUE, read_at = now(), seen_at = coalesce(seen_at, now()), "
            f"updated_at = now() WHERE user_id = $1 AND NOT read AND {NOT_DELETED}",
            user_id,
        )
        return int(status.rsplit(" ", 1)[-1])

    async def count(self) -> int:
        return int(await self.pool.fetchval("SELECT count(*) FROM workflow_signals"))
