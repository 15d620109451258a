"""Schema migrations (Alembic). Each version applies one idempotent SQL file
from `sql/`, the same files `script/create_signal_table.sql` includes.

Everything lives in signalhub's own schema (`SIGNALHUB_DB_SCHEMA`, default
`signalhub`) with its own version table `<schema>.alembic_version`: a host
application's objects and its `public.alembic_version` are never touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from ..settings import DEFAULT_DB_SCHEMA

SQL_DIR = Path(__file__).parent / "sql"
# Any number identifies our lock; two processes starting at once migrate one after the other.
MIGRATION_LOCK_ID = 0x5167_6E61_6C68_7562 & 0x7FFF_FFFF_FFFF_FFFF


class SchemaBehind(RuntimeError):
    """The database's signalhub schema is older than this code (run `signalhub migrate`)."""


def read_sql(name: str) -> str:
    return (SQL_DIR / name).read_text()


def apply_sql(name: str) -> None:
    """Run `sql/<name>` in the current migration's transaction, exactly as psql would:
    sent as-is (no parameter parsing, so `format('%I', …)` in PL/pgSQL stays intact)."""
    from alembic import op

    with contextlib.closing(op.get_bind().connection.cursor()) as cursor:
        cursor.execute(read_sql(name).encode())


def sqlalchemy_url(database_url: str, schema: str) -> str:
    """`database_url` for SQLAlchemy + psycopg 3, its sessions' search_path set to `schema`."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url).set(drivername="postgresql+psycopg")
    given = url.query.get("options")  # a str, or a tuple when repeated in the URL
    given_options = [given] if isinstance(given, str) else list(given or ())
    options = " ".join(filter(None, [*given_options, f"-c search_path={schema}"]))
    return url.update_query_dict({"options": options}).render_as_string(hide_password=False)


def ensure_schema(connection, schema: str) -> None:
    """Create `schema` when missing (only then: CREATE needs a privilege an existing schema does not)."""
    from sqlalchemy import text

    exists = connection.execute(text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": schema}).scalar()
    if not exists:
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    connection.execute(text(f'SET search_path TO "{schema}"'))


def _config(database_url: str, schema: str):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent))
    config.attributes["database_url"] = database_url
    config.attributes["schema"] = schema
    return config


def upgrade_to_head(database_url: str, schema: str = DEFAULT_DB_SCHEMA) -> None:
    """Apply every migration in `schema`; idempotent; concurrent callers wait on an advisory lock."""
    from alembic import command

    command.upgrade(_config(database_url, schema), "head")


def pending_migrations(database_url: str, schema: str = DEFAULT_DB_SCHEMA) -> list[str]:
    """Revisions not yet applied in `schema` (oldest first); empty when it is current."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine, pool

    script = ScriptDirectory.from_config(_config(database_url, schema))
    engine = create_engine(sqlalchemy_url(database_url, schema), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"version_table_schema": schema})
            current = context.get_current_revision()
    finally:
        engine.dispose()
    revisions = script.iterate_revisions("heads", current)
    return [r.revision for r in reversed(list(revisions))]


def require_current(database_url: str, schema: str = DEFAULT_DB_SCHEMA) -> None:
    """Raise SchemaBehind (one line, what to run) unless `schema` is at the newest revision."""
    pending = pending_migrations(database_url, schema)
    if pending:
        raise SchemaBehind(
            f"the database schema {schema!r} is behind this signalhub ({len(pending)} migration(s) "
            f"pending: {', '.join(pending)}); run `signalhub migrate`, or set SIGNALHUB_MIGRATE_ON_START=true"
        )


def database_on(server_url: str, name: str) -> str:
    """`server_url` pointing at database `name` on the same server."""
    return urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))


@contextlib.contextmanager
def scratch_database(
    server_url: str, prefix: str = "signalhub_scratch", *, migrate: bool = True, schema: str = DEFAULT_DB_SCHEMA
) -> Iterator[str]:
    """A new database on `server_url` (migrated unless told otherwise), dropped
    afterwards: what the test suite and the benchmark run against."""
    import asyncpg

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(server_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        url = database_on(server_url, name)
        if migrate:
            upgrade_to_head(url, schema)
        yield url
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
