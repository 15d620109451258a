"""Schema: `signalhub migrate` and `psql -f script/create_signal_table.sql` build the same thing."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

import asyncpg
import pytest

from signalhub.embedded import psql_path
from signalhub.migrations import database_on, upgrade_to_head

ROOT = Path(__file__).resolve().parent.parent

SCHEMA_QUERY = """
SELECT 'column ' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || coalesce(column_default, '')
  FROM information_schema.columns WHERE table_name IN ('workflow_signals', 'workflow_signal_seqs')
UNION ALL SELECT 'index ' || indexname || ' ' || indexdef FROM pg_indexes WHERE tablename = 'workflow_signals'
UNION ALL SELECT 'constraint ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
  WHERE conrelid = 'workflow_signals'::regclass
UNION ALL SELECT 'policy ' || policyname || ' ' || cmd || ' ' || array_to_string(roles, ',') || ' '
  || coalesce(qual, '') || ' ' || coalesce(with_check, '') FROM pg_policies WHERE tablename = 'workflow_signals'
UNION ALL SELECT 'rls ' || relname || ' ' || relrowsecurity FROM pg_class
  WHERE relname IN ('workflow_signals', 'workflow_signal_seqs')
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
    conn = await asyncpg.connect(url)
    try:
        return [r[0] for r in await conn.fetch(SCHEMA_QUERY)]
    finally:
        await conn.close()


def _psql_file(url: str) -> None:
    binary = shutil.which("psql") or str(psql_path())
    subprocess.run([binary, url, "-q", "-f", str(ROOT / "script" / "create_signal_table.sql")],
                   check=True, capture_output=True, timeout=60)


async def test_psql_script_and_migrations_build_the_same_schema(two_databases):
    by_migration, by_script = two_databases
    upgrade_to_head(by_migration)
    _psql_file(by_script)
    migrated = await _schema(by_migration)
    assert migrated == await _schema(by_script)
    assert any(line.startswith("index idx_workflow_signals_user_created") for line in migrated)
    assert "rls workflow_signals true" in migrated


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
    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetchval("SELECT version_num FROM alembic_version") is not None
    finally:
        await conn.close()


def _upgrade_to(url: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(ROOT / "src" / "signalhub" / "migrations"))
    config.attributes["database_url"] = url
    command.upgrade(config, revision)


_INSERT_TYPED = (
    "INSERT INTO workflow_signals (user_id, workflow_id, signal_type, seq) VALUES (gen_random_uuid(), 'w', $1, 1)"
)


async def test_open_signal_types_migration_lets_custom_types_in_and_keeps_rows_and_bad_names_out(two_databases):
    url = two_databases[0]
    _upgrade_to(url, "0002")
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(_INSERT_TYPED, "progress")
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute(_INSERT_TYPED, "approval_needed")
        upgrade_to_head(url)
        await conn.execute(_INSERT_TYPED, "approval_needed")
        await conn.execute(_INSERT_TYPED, "billing.invoice-paid")
        for bad in ("Approval", "9lives", "a" * 65, "sp ace", "ünïcode", ""):
            with pytest.raises(asyncpg.CheckViolationError):
                await conn.execute(_INSERT_TYPED, bad)
        assert await conn.fetchval("SELECT count(*) FROM workflow_signals") == 3
    finally:
        await conn.close()
