"""Schema migrations (Alembic). Each version applies one idempotent SQL file
from `sql/`, the same files `script/create_signal_table.sql` includes."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

SQL_DIR = Path(__file__).parent / "sql"


def read_sql(name: str) -> str:
    return (SQL_DIR / name).read_text()


def upgrade_to_head(database_url: str) -> None:
    """Apply every migration; concurrent callers wait on an advisory lock."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent))
    config.attributes["database_url"] = database_url
    command.upgrade(config, "head")


def database_on(server_url: str, name: str) -> str:
    """`server_url` pointing at database `name` on the same server."""
    return urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))


@contextlib.contextmanager
def scratch_database(server_url: str, prefix: str = "signalhub_scratch", *, migrate: bool = True) -> Iterator[str]:
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
            upgrade_to_head(url)
        yield url
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
