"""A dead database: clear 503s and 1013s, nobody crashes, and service resumes when it is back."""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from pathlib import Path

import httpx
import pytest
import websockets

from signalhub.dev.embedded import embedded_postgres
from signalhub.migrations import upgrade_to_head
from tests.support import ApiProcess, async_wait_until, collect_signals, connect, emit_in_subprocess, recv_json


@pytest.fixture
def own_postgres():
    """A PostgreSQL this test may stop and start (never the shared one)."""
    from embedded_postgres._commands import pg_ctl

    handle = embedded_postgres(Path(tempfile.mkdtemp(prefix="signalhub-down-")), cleanup_mode="delete")
    url = handle.get_uri("postgres")
    upgrade_to_head(url)

    def stop() -> None:
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=handle.pgdata, user=handle.system_user)

    def start() -> None:
        handle.ensure_postgres_running()

    yield url, stop, start
    handle.cleanup()


async def test_api_answers_503_while_the_database_is_down_and_recovers(own_postgres, artifacts, token):
    url, stop, start = own_postgres
    api = await asyncio.to_thread(ApiProcess(url, artifacts).start)
    user = uuid.uuid4()
    headers = {"Authorization": f"Bearer {token(user)}"}
    try:
        live, _ = await connect(api.ws, token(user))
        await asyncio.to_thread(stop)
        async with httpx.AsyncClient(base_url=api.base, headers=headers) as http:
            down = await http.get("/api/v1/inbox/signals/unread-count")
            assert down.status_code == 503
            assert down.json() == {"detail": "database unavailable; try again shortly"}
            # Liveness stays green (restarting the process would not bring the database back);
            # readiness takes this instance out of the load balancer.
            assert (await http.get("/healthz")).status_code == 200
            not_ready = await http.get("/readyz")
            assert not_ready.status_code == 503
            assert not_ready.json()["database"].startswith("unavailable")

            refused = await websockets.connect(f"{api.ws}?token={token(user)}")
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await recv_json(refused, 10)
            assert closed.value.rcvd.code == 1013

            await asyncio.to_thread(start)

            async def healthy() -> bool:
                return (await http.get("/api/v1/inbox/signals/unread-count")).status_code == 200

            await async_wait_until(healthy, timeout=30, what="API serves again")

        # The socket opened before the outage still receives what is emitted after it.
        await asyncio.to_thread(
            emit_in_subprocess, url,
            {"user_id": user, "signal_type": "completion", "workflow_id": "after-outage", "data": {"result": 1}},
        )
        [signal] = await collect_signals(live, 1, timeout=30)
        assert signal["workflow_id"] == "after-outage"
        await live.close()
    finally:
        await asyncio.to_thread(api.stop)
