"""`signalhub worker` as a process: retention runs inside it, SIGTERM stops it cleanly."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest

from signalhub.store import connect as connect_db
from tests.support import async_wait_until
from tests.temporal.conftest import WorkerProcess

pytestmark = pytest.mark.temporal


async def test_worker_deletes_signals_past_retention_and_stops_cleanly_on_sigterm(
    database_url, temporal_server, artifacts, user_id
):
    conn = await connect_db(database_url)
    try:
        old, fresh = uuid.uuid4(), uuid.uuid4()
        for signal_id, seq, age in ((old, 1, timedelta(days=40)), (fresh, 2, timedelta(days=1))):
            await conn.execute(
                "INSERT INTO workflow_signals (id, user_id, seq, workflow_id, signal_type, data, created_at) "
                "VALUES ($1, $2, $3, 'retention', 'status_update', '{\"status\": \"x\"}', now() - $4::interval)",
                signal_id, user_id, seq, age,
            )
        process = WorkerProcess(
            database_url, temporal_server.address, artifacts, f"retention-{uuid.uuid4().hex[:8]}",
            SIGNALHUB_RETENTION_DAYS="30", SIGNALHUB_RETENTION_INTERVAL="0.2",
        ).start()
        try:
            async def old_row_gone() -> bool:
                return await conn.fetchval("SELECT count(*) FROM workflow_signals WHERE id = $1", old) == 0

            await async_wait_until(old_row_gone, timeout=30, what="old signal purged")
            assert await conn.fetchval("SELECT count(*) FROM workflow_signals WHERE id = $1", fresh) == 1
        finally:
            code = await asyncio.to_thread(process.stop)
        assert code == 0
        assert "worker stopped" in process.log()
    finally:
        await conn.close()


async def test_unreachable_temporal_is_an_error_the_cli_can_report_not_a_process_exit():
    from signalhub.settings import Settings
    from signalhub.temporal.worker import TemporalUnavailable, connect
    from tests.support import free_port

    address = f"127.0.0.1:{free_port()}"
    with pytest.raises(TemporalUnavailable, match=f"cannot reach Temporal at {address}.*TEMPORAL_ADDRESS"):
        await connect(Settings(temporal_address=address), timeout=0.5)
