"""signalhub inside a host's own FastAPI app (tests/embedding/host_app.py),
served by uvicorn in real processes on one fresh database.

The host app has its own lifespan, CORS, body limit, API-key auth and
WebSocket; signalhub is `hub.lifespan`, `hub.router` and `hub.emit`.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets

from signalhub.migrations import scratch_database
from tests.embedding.host_config import HOST_API_KEY, HOST_MAX_BODY, HOST_ORIGIN
from tests.support import ROOT, ApiProcess, collect_signals, connect, new_user, recv_json


class HostProcess(ApiProcess):
    """`uvicorn tests.embedding.host_app:app` in its own OS process (uvicorn's defaults),
    or with `own_main` the app's own `__main__` (`hub.serve(app)`)."""

    health_path = "/hello"

    def __init__(self, database_url: str, log_dir: Path, *, prefix: str = "", own_main: bool = False, **env: str) -> None:
        super().__init__(database_url, log_dir, HOST_PREFIX=prefix, PYTHONPATH=str(ROOT), **env)
        self.ws_path = f"{prefix}/ws"
        self.own_main = own_main

    def command(self) -> list[str]:
        if self.own_main:
            return [sys.executable, "-m", "tests.embedding.host_app", str(self.port)]
        return [sys.executable, "-m", "uvicorn", "tests.embedding.host_app:app", "--app-dir", str(ROOT),
                "--host", "127.0.0.1", "--port", str(self.port)]

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base, timeout=10)


@pytest.fixture(scope="module")
def fresh_database(server_url: str) -> Iterator[str]:
    """An empty database: the first host process migrates it itself."""
    with scratch_database(server_url, "signalhub_embed", migrate=False) as url:
        yield url


@pytest.fixture(scope="module")
def hosts(fresh_database: str, artifacts: Path) -> Iterator[tuple[HostProcess, HostProcess]]:
    """Two processes of the host app on one database (signalhub at its default paths)."""
    first = HostProcess(fresh_database, artifacts).start()
    second = HostProcess(fresh_database, artifacts).start()
    yield first, second
    first.stop()
    second.stop()


@pytest.fixture(scope="module")
def prefixed(hosts, fresh_database: str, artifacts: Path) -> Iterator[tuple[HostProcess, HostProcess]]:
    """signalhub under /realtime, the host's own WebSocket at /ws: through FastAPI's router, and wrapped."""
    routed = HostProcess(fresh_database, artifacts, prefix="/realtime", HOST_ECHO_PATH="/ws").start()
    wrapped = HostProcess(fresh_database, artifacts, prefix="/realtime", HOST_ECHO_PATH="/ws", HOST_WRAP="1").start()
    yield routed, wrapped
    routed.stop()
    wrapped.stop()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_the_host_routes_answer_as_they_would_without_signalhub(hosts, token):
    host, _ = hosts
    async with host.client() as http:
        hello = await http.get("/hello")
        assert hello.json() == {"hello": "host", "ready": True, "settings": {"owner": "host"}}

        thing = {"owner": str(new_user()), "name": "no-key"}
        refused = await http.post("/api/v1/things", json=thing)
        assert refused.status_code == 401 and refused.json() == {"detail": "host: api key required"}
        # A signalhub token is no key to the host's routes: their auth stays theirs.
        with_our_token = await http.post("/api/v1/things", json=thing, headers=_bearer(token(new_user())))
        assert with_our_token.status_code == 401

        preflight = await http.options(
            "/api/v1/things", headers={"Origin": HOST_ORIGIN, "Access-Control-Request-Method": "POST"}
        )
        assert preflight.headers["access-control-allow-origin"] == HOST_ORIGIN

        too_big = await http.post("/api/v1/things", content=b"x" * (HOST_MAX_BODY + 1),
                                  headers={"X-API-Key": HOST_API_KEY, "Content-Type": "application/json"})
        assert too_big.status_code == 413 and too_big.json() == {"detail": "host: body too large"}

        # Only signalhub's own routes were added: no /healthz or /metrics of ours in the host app.
        assert (await http.get("/healthz")).status_code == 404
        assert (await http.get("/metrics")).status_code == 404

    echo = await websockets.connect(f"ws://127.0.0.1:{host.port}/echo", open_timeout=10)
    await echo.send("hi")
    assert await asyncio.wait_for(echo.recv(), 5) == "host echo: hi"
    await echo.close()


async def test_signalhub_socket_and_inbox_work_through_the_host_app(hosts, token, service_token):
    host, _ = hosts
    user = new_user()
    ws, hello = await connect(host.ws, token(user))
    assert hello["user_id"] == str(user)
    async with host.client() as http:
        sent = await http.post("/api/v1/signals", headers=_bearer(service_token), json={
            "user_id": str(user), "signal_type": "progress", "workflow_id": "wf-1", "data": {"progress": 0.5},
        })
        assert sent.status_code == 201, sent.text
        [live] = await collect_signals(ws, 1)
        assert live["id"] == sent.json()["id"] and live["data"]["progress"] == 0.5

        inbox = await http.get("/api/v1/inbox/signals", headers=_bearer(token(user)))
        assert [s["id"] for s in inbox.json()["signals"]] == [live["id"]]
        unread = await http.get("/api/v1/inbox/signals/unread-count", headers=_bearer(token(user)))
        assert unread.json() == {"unread_count": 1}
        read = await http.post(f"/api/v1/inbox/signals/{live['id']}/read", headers=_bearer(token(user)))
        assert read.status_code == 200 and read.json()["read"] is True
        assert (await recv_json(ws))["type"] == "inbox"  # the read reached the user's socket

        status = await http.get("/ws/status", headers=_bearer(service_token))
        assert status.json()["user_connection_counts"].get(str(user)) == 1
        send_test = await http.post("/ws/send-test", headers=_bearer(service_token),
                                    json={"user_id": str(user), "message": "hello from the host"})
        assert send_test.status_code == 200, send_test.text
        [test_signal] = await collect_signals(ws, 1)
        assert test_signal["data"]["message"] == "hello from the host"

        # The host's middleware wraps signalhub's routes too: its CORS, its body limit.
        preflight = await http.options("/api/v1/inbox/signals", headers={
            "Origin": HOST_ORIGIN, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization",
        })
        assert preflight.headers["access-control-allow-origin"] == HOST_ORIGIN
        too_big = await http.post("/ws/send-test", headers=_bearer(service_token),
                                  json={"user_id": str(user), "message": "x" * HOST_MAX_BODY})
        assert too_big.status_code == 413
        # signalhub's own auth on its routes: no token, no inbox.
        assert (await http.get("/api/v1/inbox/signals")).status_code == 401
    await ws.close()


async def test_a_host_routes_emit_reaches_the_users_socket_and_inbox(hosts, token):
    host, _ = hosts
    user = new_user()
    ws, _ = await connect(host.ws, token(user))
    async with host.client() as http:
        made = await http.post("/api/v1/things", json={"owner": str(user), "name": "lamp"},
                               headers={"X-API-Key": HOST_API_KEY})
        assert made.status_code == 200, made.text
        [live] = await collect_signals(ws, 1)
        assert live["id"] == made.json()["signal_id"]
        assert (live["signal_type"], live["workflow_id"], live["data"]) == ("status_update", "thing-lamp", {"status": "created"})

        again = await http.post("/api/v1/things", json={"owner": str(user), "name": "lamp"},
                                headers={"X-API-Key": HOST_API_KEY})
        assert again.json()["signal_id"] == live["id"] and again.json()["created"] is False  # idempotency key
        inbox = await http.get("/api/v1/inbox/signals", headers=_bearer(token(user)))
        assert [s["id"] for s in inbox.json()["signals"]] == [live["id"]]
    await ws.close()


async def test_a_second_host_process_gets_the_signal_over_the_broker(hosts, token):
    first, second = hosts
    user = new_user()
    ws, _ = await connect(second.ws, token(user))
    async with first.client() as http:
        made = await http.post("/api/v1/things", json={"owner": str(user), "name": "kettle"},
                               headers={"X-API-Key": HOST_API_KEY})
    [live] = await collect_signals(ws, 1)
    assert live["id"] == made.json()["signal_id"]
    await ws.close()


async def test_a_prefix_moves_the_socket_and_the_inbox_and_leaves_the_hosts_ws_alone(prefixed, token, service_token):
    for host in prefixed:  # through FastAPI's router, then through hub.asgi(app)
        user = new_user()
        ws, _ = await connect(f"ws://127.0.0.1:{host.port}/realtime/ws", token(user))
        async with host.client() as http:
            sent = await http.post("/realtime/api/v1/signals", headers=_bearer(service_token), json={
                "user_id": str(user), "signal_type": "completion", "workflow_id": "wf-p", "data": {"result": {}},
            })
            assert sent.status_code == 201, sent.text
            [live] = await collect_signals(ws, 1)
            inbox = await http.get("/realtime/api/v1/inbox/signals", headers=_bearer(token(user)))
            assert [s["id"] for s in inbox.json()["signals"]] == [live["id"]]
            assert (await http.get("/api/v1/inbox/signals", headers=_bearer(token(user)))).status_code == 404
        await ws.close()

        echo = await websockets.connect(f"ws://127.0.0.1:{host.port}/ws", open_timeout=10)
        await echo.send("still mine")
        assert await asyncio.wait_for(echo.recv(), 5) == "host echo: still mine"
        await echo.close()


async def test_shutdown_closes_the_sockets_with_a_reconnect_code(fresh_database, artifacts, token, service_token):
    # uvicorn's own shutdown says 1012 (service restart); hub.serve's says 1001 (going away) first.
    for options, codes in (({"HOST_WRAP": "0"}, {1012}), ({"HOST_WRAP": "1"}, {1012}), ({"own_main": True}, {1001})):
        host = HostProcess(fresh_database, artifacts, **options).start()
        try:
            user = new_user()
            user_token = token(user)
            ws, _ = await connect(host.ws, user_token)
            async with host.client() as http:  # a signal first: the socket is live, whichever protocol serves it
                sent = await http.post("/ws/send-test", headers=_bearer(service_token), json={"user_id": str(user)})
            assert [s["id"] for s in await collect_signals(ws, 1)] == [sent.json()["id"]]
            host.proc.send_signal(signal.SIGTERM)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 15)
            assert closed.value.rcvd is not None and closed.value.rcvd.code in codes, closed.value
            host.proc.wait(15)  # uvicorn ends by re-raising the SIGTERM it handled
            assert "Application shutdown complete" in host.log(), host.log()[-3000:]
            assert user_token not in host.log() and "token=[redacted]" in host.log()
        finally:
            host.stop()
