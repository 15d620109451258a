"""Row-level security, proven inside PostgreSQL with hand-written queries.

Each test connects as the table owner, then switches to the role and claims a
user's request runs with on Supabase (PostgREST does exactly this):
`SET ROLE authenticated` and `request.jwt.claims = '{"sub": "<user>"}'`.
This database has no `auth` schema, so the policies read the claims directly
(the portable form); tests/test_supabase_install.py covers `auth.uid()`.
Whatever SQL that session writes, it must only ever see and change its own
rows, must not insert, and only the service role may insert.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pytest

from signalhub.store import connect as connect_db

INSERT = """
INSERT INTO workflow_signals (user_id, workflow_id, signal_type, data, seq)
SELECT $1, 'wf-' || n, 'status_update', '{"status": "secret"}', $2 + n FROM generate_series(1, $3) AS n
"""


@pytest.fixture
async def owner(database_url) -> AsyncIterator[asyncpg.Connection]:
    conn = await connect_db(database_url)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
async def alice_and_bob(owner) -> tuple[uuid.UUID, uuid.UUID]:
    alice, bob = uuid.uuid4(), uuid.uuid4()
    await owner.execute(INSERT, alice, 0, 2)
    await owner.execute(INSERT, bob, 0, 3)
    return alice, bob


@asynccontextmanager
async def as_user(conn: asyncpg.Connection, user: uuid.UUID | None, *, legacy_claim: bool = False):
    """A transaction running as `authenticated` with the user's JWT claims (rolled back at the end)."""
    tx = conn.transaction()
    await tx.start()
    try:
        await conn.execute("SET LOCAL ROLE authenticated")
        if user is not None:
            if legacy_claim:
                await conn.execute("SELECT set_config('request.jwt.claim.sub', $1, true)", str(user))
            else:
                claims = json.dumps({"sub": str(user), "role": "authenticated", "aud": "authenticated"})
                await conn.execute("SELECT set_config('request.jwt.claims', $1, true)", claims)
        yield conn
    finally:
        await tx.rollback()


async def test_user_selects_only_own_rows_even_when_asking_for_another_users(owner, alice_and_bob):
    alice, bob = alice_and_bob
    async with as_user(owner, alice) as conn:
        assert await conn.fetchval("SELECT current_user") == "authenticated"
        rows = await conn.fetch("SELECT user_id FROM workflow_signals")
        assert {r["user_id"] for r in rows} == {alice}
        assert len(rows) == 2
        assert await conn.fetchval("SELECT count(*) FROM workflow_signals WHERE user_id = $1", bob) == 0
        assert await conn.fetchval("SELECT count(*) FROM workflow_signals WHERE user_id <> $1 OR true", alice) == 2


async def test_legacy_single_claim_setting_is_honoured_too(owner, alice_and_bob):
    alice, _ = alice_and_bob
    async with as_user(owner, alice, legacy_claim=True) as conn:
        assert {r["user_id"] for r in await conn.fetch("SELECT user_id FROM workflow_signals")} == {alice}


async def test_session_without_claims_sees_nothing(owner, alice_and_bob):
    async with as_user(owner, None) as conn:
        assert await conn.fetchval("SELECT count(*) FROM workflow_signals") == 0


async def test_user_cannot_update_another_users_rows_but_can_mark_own_read(owner, alice_and_bob):
    alice, bob = alice_and_bob
    async with as_user(owner, alice) as conn:
        assert await conn.execute("UPDATE workflow_signals SET read = true WHERE user_id = $1", bob) == "UPDATE 0"
        assert await conn.execute("UPDATE workflow_signals SET read = true") == "UPDATE 2"  # own rows only
    assert await owner.fetchval("SELECT count(*) FROM workflow_signals WHERE user_id = $1 AND read", bob) == 0


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE workflow_signals SET user_id = '{bob}' WHERE user_id = '{alice}'",  # give a row away
        "UPDATE workflow_signals SET data = '{{}}' WHERE user_id = '{alice}'",  # rewrite history
        "UPDATE workflow_signals SET seq = seq + 1000 WHERE user_id = '{alice}'",
    ],
)
async def test_user_cannot_change_anything_but_the_read_state(owner, alice_and_bob, sql):
    alice, bob = alice_and_bob
    async with as_user(owner, alice) as conn:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(sql.format(alice=alice, bob=bob))


@pytest.mark.parametrize("where", ["user_id = '{bob}'", "user_id = '{alice}'", "true"])
async def test_user_cannot_delete_any_row(owner, alice_and_bob, where):
    alice, bob = alice_and_bob
    async with as_user(owner, alice) as conn:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(f"DELETE FROM workflow_signals WHERE {where.format(alice=alice, bob=bob)}")
    assert await owner.fetchval("SELECT count(*) FROM workflow_signals WHERE user_id = ANY($1::uuid[])", [alice, bob]) == 5


@pytest.mark.parametrize("target", ["alice", "bob"])
async def test_user_cannot_insert_a_signal_for_anyone(owner, alice_and_bob, target):
    alice, bob = alice_and_bob
    async with as_user(owner, alice) as conn:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(INSERT, {"alice": alice, "bob": bob}[target], 100, 1)


async def test_user_cannot_touch_the_sequence_counters(owner, alice_and_bob):
    alice, _ = alice_and_bob
    async with as_user(owner, alice) as conn:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetch("SELECT * FROM workflow_signal_seqs")


async def test_service_role_can_insert_and_read_every_users_rows(owner, alice_and_bob):
    alice, bob = alice_and_bob
    async with owner.transaction():
        await owner.execute("SET LOCAL ROLE service_role")
        assert await owner.execute(INSERT, bob, 100, 1) == "INSERT 0 1"
        rows = await owner.fetch("SELECT user_id FROM workflow_signals WHERE user_id = ANY($1::uuid[])", [alice, bob])
        users = {r["user_id"] for r in rows}
        assert users == {alice, bob}
    assert await owner.fetchval("SELECT count(*) FROM workflow_signals WHERE user_id = $1", bob) == 4


async def test_row_level_security_is_enabled_on_both_tables(owner):
    rows = await owner.fetch(
        "SELECT relname, relrowsecurity FROM pg_class WHERE relname IN ('workflow_signals', 'workflow_signal_seqs')"
    )
    assert {r["relname"]: r["relrowsecurity"] for r in rows} == {"workflow_signals": True, "workflow_signal_seqs": True}


async def test_user_archives_own_signals_under_rls_and_only_own_counts_move(owner, alice_and_bob):
    alice, bob = alice_and_bob
    counts = "SELECT total, unread, unseen FROM workflow_signal_counts WHERE user_id = $1"
    async with as_user(owner, alice) as conn:
        # Only own rows can be marked; the counts trigger runs as alice and keeps her own row.
        assert await conn.execute("UPDATE workflow_signals SET archived_at = now(), seen_at = now()") == "UPDATE 2"
        assert tuple(await conn.fetchrow(counts, alice)) == (0, 0, 0)
        assert await conn.fetch("SELECT user_id FROM workflow_signal_counts") == [(alice,)]
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("UPDATE workflow_signals SET data = '{}'")  # not a column users may change
    async with as_user(owner, alice) as conn:
        assert await conn.execute("UPDATE workflow_signal_counts SET total = 99 WHERE user_id = $1", bob) == "UPDATE 0"
    assert tuple(await owner.fetchrow(counts, bob)) == (3, 3, 3)
