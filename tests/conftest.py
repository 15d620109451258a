"""Shared fixtures: a real PostgreSQL (TEST_DATABASE_URL or an embedded one),
a migrated database per test session, and a real `signalhub api` process."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from signalhub.auth import mint_service_token, mint_user_token
from signalhub.migrations import scratch_database
from signalhub.store import SignalStore, create_pool
from tests.support import SECRET, ApiProcess

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """A PostgreSQL server: the machine's (TEST_DATABASE_URL) or an embedded one."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    from signalhub.dev.embedded import embedded_postgres

    tmp = Path(tempfile.mkdtemp(prefix="signalhub-pg-"))
    server = embedded_postgres(tmp, cleanup_mode="delete")
    try:
        yield server.get_uri("postgres")
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def database_url(server_url: str) -> Iterator[str]:
    """A fresh, migrated database for this test session (dropped at the end)."""
    with scratch_database(server_url, "signalhub_test") as url:
        yield url


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
