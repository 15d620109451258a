"""Shared fixtures: a real PostgreSQL (TEST_DATABASE_URL or an embedded one),
a migrated database per test session, and a real `signalhub api` process."""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from signalhub.auth import mint_service_token, mint_user_token
from signalhub.migrations import upgrade_to_head
from signalhub.store import SignalStore, create_pool
from tests.support import SECRET, ApiProcess

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """A PostgreSQL server: the machine's (TEST_DATABASE_URL) or an embedded one."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    from signalhub.embedded import embedded_postgres

    tmp = Path(tempfile.mkdtemp(prefix="signalhub-pg-"))
    server = embedded_postgres(tmp, cleanup_mode="delete")
    try:
        yield server.get_uri("postgres")
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def database_url(server_url: str) -> Iterator[str]:
    """A fresh, migrated database for this test session (dropped at the end)."""
    name = f"signalhub_test_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(server_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    url = _with_database(server_url, name)
    upgrade_to_head(url)
    yield url
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def api(database_url: str, artifacts: Path) -> Iterator[ApiProcess]:
    """One real API process shared by the session (PostgreSQL LISTEN/NOTIFY broker)."""
    server = ApiProcess(database_url, artifacts).start()
    yield server
    server.stop()


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[SignalStore]:
    pool = await create_pool(database_url, max_size=4)
    try:
        yield SignalStore(pool)
    finally:
        await pool.close()


@pytest.fixture
def user_id() -> uuid.UUID:
    return uuid.uuid4()


@pytest.fixture
def token():
    def make(user: uuid.UUID | str, **extra) -> str:
        return mint_user_token(SECRET, user, **extra)

    return make


@pytest.fixture(scope="session")
def service_token() -> str:
    return mint_service_token(SECRET)
