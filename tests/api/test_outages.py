"""Database outages produced for real against a real `signalhub api`: every answer is
a 503 (REST) or a close 1013 (WebSocket, the handshake included), never a 500 or a
dropped socket, and the instance serves again as soon as the database does."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
import websockets

from signalhub.migrations import scratch_database
from tests.support import ApiProcess, admin_sql, async_wait_until, database_name, recv_json, terminate_backends


@pytest.fixture
def outage_api(server_url, artifacts):
    """An API on a database of its own, which the test may close to connections."""
    with scratch_database(server_url, "signalhub_outage") as url:
        api = ApiProcess(url, artifacts).start()
        try:
            yield api, database_name(url)
        finally:
            api.stop()


async def test_a_database_closed_to_connections_answers_503_and_1013_then_recovers(outage_api, server_url, token):
    api, database = outage_api
    user = uuid.uuid4()
    headers = {"Authorization": f"Bearer {token(user)}"}
    async with httpx.AsyncClient(base_url=api.base, headers=headers, timeout=10) as http:
        assert (await http.get("/readyz")).status_code == 200
        try:
            await admin_sql(server_url, f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
            await terminate_backends(server_url, database)
            for path in ("/api/v1/inbox/signals", "/api/v1/inbox/signals/unread-count"):
                down = await http.get(path)
                assert down.status_code == 503, (path, down.status_code, down.text)
                assert down.json() == {"detail": "database unavailable; try again shortly"}
                assert down.headers["retry-after"] == "2"

            # The handshake's latest_seq read fails: a close frame 1013, not a dropped socket.
            socket = await websockets.connect(f"{api.ws}?token={token(user)}", open_timeout=10)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await recv_json(socket, 10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013

            assert (await http.get("/healthz")).status_code == 200  # alive: no restart wanted
            not_ready = await http.get("/readyz")
            assert not_ready.status_code == 503 and not_ready.json()["database"].startswith("unavailable")
        finally:
            await admin_sql(server_url, f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')

        async def serves() -> bool:
            return (await http.get("/api/v1/inbox/signals/unread-count")).status_code == 200

        async def ready() -> bool:
            return (await http.get("/readyz")).status_code == 200

        await async_wait_until(serves, timeout=30, what="the API serves again")
        # Ready again once the broker's LISTEN connection is back too (it retries with backoff).
        await async_wait_until(ready, timeout=30, what="the API is ready again")
    assert "Exception in ASGI application" not in api.log()


async def test_emits_while_backends_are_terminated_answer_201_or_503_never_500(outage_api, server_url, service_token):
    api, database = outage_api
    user = str(uuid.uuid4())
    statuses: dict[int, int] = {}

    async def emit_many(http: httpx.AsyncClient, worker: int) -> None:
        for i in range(40):
            response = await http.post(
                "/api/v1/signals",
                json={"user_id": user, "signal_type": "completion", "workflow_id": f"w{worker}-{i}", "data": {}},
            )
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

    async def kill_while(work: asyncio.Future) -> None:
        for _ in range(500):  # bounded; ends as soon as the emits do
            if work.done():
                return
            await asyncio.sleep(0.05)
            await terminate_backends(server_url, database)

    headers = {"Authorization": f"Bearer {service_token}"}
    async with httpx.AsyncClient(base_url=api.base, headers=headers, timeout=20) as http:
        work = asyncio.gather(*(emit_many(http, w) for w in range(6)))
        await asyncio.gather(work, kill_while(work))
        assert set(statuses) <= {201, 503}, statuses
        assert statuses.get(503, 0) > 0, statuses  # the kills hit emits in flight
        # A connection killed while idle fails once (503) and is replaced: within the pool's
        # size (10) of retries an emit succeeds; a reused broken connection would fail forever.
        for _ in range(11):
            ok = await http.post(
                "/api/v1/signals", json={"user_id": user, "signal_type": "completion", "workflow_id": "after", "data": {}}
            )
            if ok.status_code != 503:
                break
        assert ok.status_code == 201
    assert "Exception in ASGI application" not in api.log()



@pytest.fixture
def draining_api(database_url, artifacts):
    api = ApiProcess(database_url, artifacts, SIGNALHUB_SHUTDOWN_DRAIN_SECONDS="3").start()
    try:
        yield api
    finally:
        api.stop()


async def test_readiness_turns_503_on_sigterm_while_the_instance_drains(draining_api, token):
    """SIGTERM with a drain period: `/readyz` answers 503 at once (so a load balancer stops
    sending new clients), everything else is still served, then the process exits."""
    import signal

    api = draining_api
    headers = {"Authorization": f"Bearer {token(uuid.uuid4())}"}
    async with httpx.AsyncClient(base_url=api.base, headers=headers, timeout=10) as http:
        assert (await http.get("/readyz")).status_code == 200
        api.proc.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.5)
        during = await http.get("/readyz")
        assert during.status_code == 503 and during.json()["shutdown"] == "in progress"
        assert (await http.get("/api/v1/inbox/signals/unread-count")).status_code == 200
        assert (await http.get("/healthz")).status_code == 200
    assert await asyncio.to_thread(api.proc.wait, 20) in (0, -signal.SIGTERM)  # exited, after the drain
