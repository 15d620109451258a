"""How signalhub connects: its schema first in every search_path, prepared
statements off for transaction poolers, LISTEN on its own URL."""

from __future__ import annotations

import asyncio

import httpx

from signalhub.migrations import scratch_database, upgrade_to_head
from signalhub.store import connect as connect_db
from signalhub.store import create_pool
from tests.support import ApiProcess, async_wait_until, collect_signals, connect, with_query

# The schema that the unqualified name resolves to.
SCHEMA_OF_WORKFLOW_SIGNALS = "SELECT relnamespace::regnamespace::text FROM pg_class WHERE oid = to_regclass('workflow_signals')"


async def test_every_pooled_and_single_connection_searches_signalhubs_schema_only(database_url):
    pool = await create_pool(database_url, max_size=2)
    single = await connect_db(database_url)
    try:
        assert await pool.fetchval("SHOW search_path") == "signalhub"
        assert await single.fetchval("SHOW search_path") == "signalhub"
        assert await single.fetchval(SCHEMA_OF_WORKFLOW_SIGNALS) == "signalhub"
    finally:
        await single.close()
        await pool.close()


def test_another_schema_name_is_used_throughout(server_url):
    async def table_found_by(url: str) -> str:
        pool = await create_pool(url, max_size=1, schema="notify_inbox")
        try:
            return await pool.fetchval(SCHEMA_OF_WORKFLOW_SIGNALS)
        finally:
            await pool.close()

    with scratch_database(server_url, "signalhub_other_schema", migrate=False) as url:
        upgrade_to_head(url, "notify_inbox")
        assert asyncio.run(table_found_by(url)) == "notify_inbox"


async def test_without_prepared_statements_nothing_stays_prepared_on_the_server(database_url):
    """What a transaction pooler needs: no named statement outlives its transaction."""
    for prepared, expect_some in ((True, True), (False, False)):
        pool = await create_pool(database_url, min_size=1, max_size=1, prepared_statements=prepared)
        try:
            async with pool.acquire() as conn:
                for n in range(3):
                    await conn.fetchval("SELECT count(*) FROM workflow_signals WHERE seq > $1", n)
                kept = await conn.fetchval("SELECT count(*) FROM pg_prepared_statements")
            assert (kept > 0) is expect_some, (prepared, kept)
        finally:
            await pool.close()


async def test_the_api_listens_on_the_listen_url_and_delivers(database_url, artifacts, token, service_token, user_id):
    listen_url = with_query(database_url, application_name="signalhub-listener")
    api = ApiProcess(
        with_query(database_url, application_name="signalhub-pool"), artifacts,
        DATABASE_LISTEN_URL=listen_url, SIGNALHUB_DB_PREPARED_STATEMENTS="false",
    ).start()
    admin = await connect_db(database_url)
    try:
        async def listening_backends() -> list[str]:
            rows = await admin.fetch(
                "SELECT application_name FROM pg_stat_activity WHERE query LIKE 'LISTEN %' AND datname = current_database()"
            )
            return [r["application_name"] for r in rows]

        await async_wait_until(lambda: _listener_found(listening_backends()), what="a LISTEN connection")
        # (Other tests' APIs share this database and LISTEN with the default, empty name.)
        assert "signalhub-pool" not in await listening_backends()

        ws, _ = await connect(api.ws, token(user_id))
        async with httpx.AsyncClient(base_url=api.base) as http:
            sent = await http.post("/ws/send-test", json={"user_id": str(user_id), "message": "through the pooler"},
                                   headers={"Authorization": f"Bearer {service_token}"})
            assert sent.status_code == 200
        [signal] = await collect_signals(ws, 1)
        assert signal["data"]["message"] == "through the pooler"
        await ws.close()
    finally:
        await admin.close()
        api.stop()


async def _listener_found(names) -> bool:
    return "signalhub-listener" in await names
