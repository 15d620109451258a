"""Readiness on a busy instance: queries that keep succeeding mean "serving", however long the pool's queue."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from signalhub.api.admin import READY_FROM_QUERIES_WITHIN, health_router
from signalhub.fastapi import SignalHub
from signalhub.settings import Settings
from tests.support import SECRET


async def test_readiness_answers_at_once_while_the_pool_is_queued_but_its_queries_succeed(database_url):
    # A pool of two with ~1 s of queries queued: a readiness query of its own would wait behind them
    # for longer than SIGNALHUB_READINESS_TIMEOUT and call a busy instance unavailable.
    settings = Settings(supabase_jwt_secret=SECRET, database_url=database_url, broker_url="memory", readiness_timeout=0.2)
    hub = SignalHub(settings, migrate=False, pool_size=2)
    app = FastAPI()
    app.include_router(health_router)
    transport = httpx.ASGITransport(app=app)
    async with hub.lifespan(app), httpx.AsyncClient(transport=transport, base_url="http://host") as http:
        assert hub.runtime is not None
        pool = hub.runtime.store.pool
        busy = [asyncio.create_task(pool.fetchval("SELECT pg_sleep(0.05)")) for _ in range(40)]
        try:
            await asyncio.sleep(0.3)  # several have finished; most are still waiting for a connection
            assert sum(task.done() for task in busy) < len(busy)
            ready = await http.get("/readyz")
            assert ready.status_code == 200, ready.json()
            assert ready.json()["database"] == "ok"
        finally:
            await asyncio.gather(*busy)

        # Idle for longer than the window: readiness asks the database itself, which answers at once.
        await asyncio.sleep(READY_FROM_QUERIES_WITHIN + 0.2)
        assert hub.runtime.database_outcomes is not None
        assert not hub.runtime.database_outcomes.serving(READY_FROM_QUERIES_WITHIN)
        assert (await http.get("/readyz")).json()["database"] == "ok"
