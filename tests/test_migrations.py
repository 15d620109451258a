"""Schema: `signalhub migrate` and `psql -f script/create_signal_table.sql` build the same
thing, inside signalhub's own schema, next to whatever the host database already has."""

from __future__ import annotations

import re
import shutil
import subprocess
import uuid
from pathlib import Path

import asyncpg
import pytest

from signalhub.dev.embedded import psql_path
from signalhub.migrations import (
    SchemaBehind,
    database_on,
    pending_migrations,
    read_sql,
    require_current,
    upgrade_to_head,
)
from signalhub.store import connect as connect_db

ROOT = Path(__file__).resolve().parent.parent

SCHEMA_QUERY = """
SELECT 'column ' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || coalesce(column_default, '')
  FROM information_schema.columns
  WHERE table_schema = current_schema() AND table_name IN ('workflow_signals', 'workflow_signal_seqs')
UNION ALL SELECT 'index ' || indexname || ' ' || indexdef FROM pg_indexes
  WHERE schemaname = current_schema() AND tablename = 'workflow_signals'
UNION ALL SELECT 'constraint ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
  WHERE conrelid = 'workflow_signals'::regclass
UNION ALL SELECT 'policy ' || tablename || ' ' || policyname || ' ' || cmd || ' ' || array_to_string(roles, ',')
  || ' ' || coalesce(qual, '') || ' ' || coalesce(with_check, '') FROM pg_policies
  WHERE schemaname = current_schema()
UNION ALL SELECT 'rls ' || relname || ' ' || relrowsecurity FROM pg_class
  WHERE relnamespace = current_schema()::regnamespace AND relkind IN ('r', 'p')
UNION ALL SELECT 'table ' || table_schema || '.' || table_name FROM information_schema.tables
  WHERE table_schema NOT IN ('pg_catalog', 'information_schema')
ORDER BY 1
"""


@pytest.fixture
async def two_databases(server_url):
    names = [f"signalhub_schema_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    admin = await asyncpg.connect(server_url)
    for name in names:
        await admin.execute(f'CREATE DATABASE "{name}"')
    yield [database_on(server_url, n) for n in names]
    for name in names:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


async def _schema(url: str) -> list[str]:
    conn = await connect_db(url)
    try:
        return [r[0] for r in await conn.fetch(SCHEMA_QUERY)]
    finally:
        await conn.close()


def _psql_file(url: str, *args: str) -> None:
    binary = shutil.which("psql") or str(psql_path())
    subprocess.run([binary, url, "-q", *args, "-f", str(ROOT / "script" / "create_signal_table.sql")],
                   check=True, capture_output=True, timeout=60)


async def test_psql_script_and_migrations_build_the_same_schema(two_databases):
    by_migration, by_script = two_databases
    upgrade_to_head(by_migration)
    _psql_file(by_script)
    migrated = await _schema(by_migration)
    by_script_schema = await _schema(by_script)
    # The only difference: the script records no Alembic history.
    assert [x for x in migrated if "alembic_version" not in x] == by_script_schema
    assert any(line.startswith("index idx_workflow_signals_user_created") for line in migrated)
    assert "rls workflow_signals true" in migrated
    tables = {line for line in migrated if line.startswith("table ")}
    months = {line for line in tables if re.fullmatch(r"table signalhub\.workflow_signals_p\d{4}_\d{2}", line)}
    assert len(months) == 3  # this month and the next two
    assert tables - months == {
        f"table signalhub.{name}"
        for name in ("alembic_version", "workflow_signals", "workflow_signals_default", "workflow_signal_seqs",
                     "workflow_signal_counts", "workflow_signal_idempotency_keys", "documents", "document_chunks")
    }


async def test_every_seed_column_check_and_index_exists(two_databases):
    url = two_databases[0]
    upgrade_to_head(url)
    schema = "\n".join(await _schema(url))
    for column in ("id uuid", "user_id uuid", "workflow_id text", "signal_type text", "data jsonb",
                   "timestamp timestamp with time zone", "read boolean", "read_at timestamp with time zone",
                   "created_at timestamp with time zone", "updated_at timestamp with time zone",
                   "seq bigint", "idempotency_key text"):
        assert f"column {column}" in schema
    for index in ("idx_workflow_signals_user_id", "idx_workflow_signals_workflow_id",
                  "idx_workflow_signals_read", "idx_workflow_signals_user_created"):
        assert f"index {index}" in schema
    assert "CHECK ((signal_type ~ '^[a-z][a-z0-9_.-]{0,63}$'::text))" in schema


async def test_applying_twice_in_any_order_is_harmless(two_databases):
    url = two_databases[0]
    _psql_file(url)
    upgrade_to_head(url)
    upgrade_to_head(url)
    _psql_file(url)
    conn = await connect_db(url)
    try:
        assert await conn.fetchval("SELECT version_num FROM signalhub.alembic_version") is not None
        assert await conn.fetchval("SELECT to_regclass('public.alembic_version')") is None
    finally:
        await conn.close()


async def test_the_schema_name_is_a_setting_for_migrations_and_script_alike(two_databases):
    by_migration, by_script = two_databases
    upgrade_to_head(by_migration, "inbox_events")
    _psql_file(by_script, "-v", "schema=inbox_events")
    for url in two_databases:
        conn = await connect_db(url, schema="inbox_events")
        try:
            assert await conn.fetchval("SELECT count(*) FROM inbox_events.workflow_signals") == 0
            assert await conn.fetchval("SELECT to_regnamespace('signalhub')") is None
        finally:
            await conn.close()


async def test_next_to_a_host_alembic_history_both_histories_stay_apart(two_databases):
    url = two_databases[0]
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE TABLE public.alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
        await conn.execute("INSERT INTO public.alembic_version VALUES ('3f2a9c1d7e4b')")
        upgrade_to_head(url)
        upgrade_to_head(url)
        assert await conn.fetch("SELECT version_num FROM public.alembic_version") == [("3f2a9c1d7e4b",)]
        assert await conn.fetchval("SELECT version_num FROM signalhub.alembic_version") == pending_head()
    finally:
        await conn.close()


def pending_head() -> str:
    from alembic.script import ScriptDirectory

    from signalhub.migrations import _config

    return ScriptDirectory.from_config(_config("postgresql://unused", "signalhub")).get_current_head()


async def test_a_schema_behind_is_reported_with_what_to_run(two_databases):
    url = two_databases[0]
    assert pending_migrations(url)[0] == "0000"
    with pytest.raises(SchemaBehind, match="signalhub migrate"):
        require_current(url)
    upgrade_to_head(url)
    assert pending_migrations(url) == []
    require_current(url)


async def _legacy_install(conn: asyncpg.Connection, user: uuid.UUID) -> None:
    """What older versions left behind: signalhub's tables and version row in public."""
    await conn.execute("SET search_path TO public")
    await conn.execute(read_sql("0001_workflow_signals.sql"))
    await conn.execute(read_sql("0002_document_chunks.sql"))
    await conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
    await conn.execute("INSERT INTO alembic_version VALUES ('0002')")
    await conn.execute("INSERT INTO workflow_signal_seqs VALUES ($1, 1)", user)
    await conn.execute(
        "INSERT INTO workflow_signals (user_id, workflow_id, signal_type, seq) VALUES ($1, 'wf', 'completion', 1)", user
    )
    await conn.execute("INSERT INTO documents (id, user_id, domain_id, file_name) VALUES ('d1', $1, 'x', 'a.md')", user)
    await conn.execute("RESET search_path")


async def test_an_older_install_in_public_is_moved_rows_and_all(two_databases):
    url = two_databases[0]
    user = uuid.uuid4()
    conn = await asyncpg.connect(url)
    try:
        await _legacy_install(conn, user)
        upgrade_to_head(url)
        upgrade_to_head(url)
        assert await conn.fetchval("SELECT user_id FROM signalhub.workflow_signals") == user
        assert await conn.fetchval("SELECT last_seq FROM signalhub.workflow_signal_seqs") == 1
        assert await conn.fetchval("SELECT file_name FROM signalhub.documents") == "a.md"
        for name in ("workflow_signals", "workflow_signal_seqs", "documents", "document_chunks", "alembic_version"):
            assert await conn.fetchval("SELECT to_regclass($1)", f"public.{name}") is None
    finally:
        await conn.close()


async def test_a_hosts_own_documents_table_is_not_mistaken_for_signalhubs(two_databases):
    url = two_databases[0]
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE TABLE public.documents (id bigserial PRIMARY KEY, content text, metadata jsonb)")
        await conn.execute("CREATE TABLE public.document_chunks (document_id bigint REFERENCES public.documents (id))")
        await conn.execute("INSERT INTO public.documents (content) VALUES ('the host''s')")
        upgrade_to_head(url)
        assert await conn.fetchval("SELECT content FROM public.documents") == "the host's"
        assert await conn.fetchval("SELECT to_regclass('public.document_chunks')") is not None
        assert await conn.fetchval("SELECT count(*) FROM signalhub.documents") == 0
    finally:
        await conn.close()



def _upgrade_to(url: str, revision: str) -> None:
    """Migrate signalhub's schema up to `revision` only (an install made by an older signalhub)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(ROOT / "src" / "signalhub" / "migrations"))
    config.attributes["database_url"] = url
    config.attributes["schema"] = "signalhub"
    command.upgrade(config, revision)


_INSERT_TYPED = "INSERT INTO workflow_signals (user_id, workflow_id, signal_type, seq) VALUES ($2, 'w', $1, $3)"


async def test_open_signal_types_migration_lets_custom_types_in_and_keeps_rows_and_bad_names_out(two_databases):
    url = two_databases[0]
    _upgrade_to(url, "0002")
    conn = await connect_db(url)
    try:
        await conn.execute(_INSERT_TYPED, "progress", uuid.uuid4(), 1)
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute(_INSERT_TYPED, "approval_needed", uuid.uuid4(), 1)
        upgrade_to_head(url)
        await conn.execute(_INSERT_TYPED, "approval_needed", uuid.uuid4(), 1)
        await conn.execute(_INSERT_TYPED, "billing.invoice-paid", uuid.uuid4(), 1)
        for bad in ("Approval", "9lives", "a" * 65, "sp ace", "ünïcode", ""):
            with pytest.raises(asyncpg.CheckViolationError):
                await conn.execute(_INSERT_TYPED, bad, uuid.uuid4(), 1)
        assert await conn.fetchval("SELECT count(*) FROM workflow_signals") == 3
    finally:
        await conn.close()


async def test_an_install_upgraded_past_both_keeps_counts_of_custom_typed_signals_too(two_databases):
    # Rows from before either migration, then custom types (0005) counted by the inbox triggers (0004).
    url = two_databases[0]
    user = uuid.uuid4()
    _upgrade_to(url, "0002")
    conn = await connect_db(url)
    try:
        await conn.execute(_INSERT_TYPED, "progress", user, 1)
        await conn.execute(_INSERT_TYPED, "completion", user, 2)
        await conn.execute("UPDATE workflow_signals SET read = true WHERE seq = 2")
        upgrade_to_head(url)
        assert pending_migrations(url) == []
        counts = "SELECT total, unread, unseen FROM workflow_signal_counts WHERE user_id = $1"
        assert tuple(await conn.fetchrow(counts, user)) == (2, 1, 2)  # recomputed from the rows already there
        await conn.execute(_INSERT_TYPED, "approval_needed", user, 3)
        await conn.execute(_INSERT_TYPED, "billing.invoice-paid", user, 4)
        await conn.execute("UPDATE workflow_signals SET archived_at = now() WHERE seq = 4")
        assert tuple(await conn.fetchrow(counts, user)) == (3, 2, 3)
    finally:
        await conn.close()
