"""The Python client and `signalhub emit`, against a real API process and database.

Failures are real too: a TCP proxy that forwards a request and then drops the
connection before the answer (the answer is lost, the signal is stored), a
port nobody listens on yet, and a database that is stopped and started.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import httpx
import pytest

from signalhub.client import AsyncSignalHubClient, BatchError, Delivered, Emitted, SignalHubClient, SignalHubError
from tests.api.test_database_down import own_postgres  # noqa: F401 - a fixture
from tests.support import SECRET, ApiProcess, base_env, free_port

BIN = Path(sys.executable).parent


class AnswerLosingProxy:
    """Forwards TCP to the API; the first `lose` connections never get their answer back."""

    def __init__(self, target_port: int, lose: int) -> None:
        self.target_port = target_port
        self.lose = lose
        self.connections = 0
        self.port = free_port()
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> AnswerLosingProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        drop_answer = self.lose > 0
        self.lose -= 1
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, drop: bool) -> None:
            try:
                while data := await src.read(65536):
                    if drop:
                        break  # the server answered: the client never hears it
                    dst.write(data)
                    await dst.drain()
            except OSError:
                pass
            finally:
                dst.close()

        await asyncio.gather(pump(reader, up_writer, False), pump(up_reader, writer, drop_answer))


async def _inbox(api, token, user) -> list[dict]:
    async with httpx.AsyncClient(base_url=api.base, headers={"Authorization": f"Bearer {token(user)}"}) as http:
        return (await http.get("/api/v1/inbox/signals")).json()["signals"]


def test_sync_client_emits_to_one_to_many_and_in_batches(api, service_token):
    users = [uuid.uuid4() for _ in range(3)]
    with SignalHubClient(api.base, service_token) as hub:
        one = hub.emit(users[0], "progress", "import-1", {"progress": 0.25})
        many = hub.emit_many(users, "approval_needed", "doc-7", {"question": "Publish?"})
        results = hub.batch([
            {"user_id": users[1], "signal_type": "digest", "workflow_id": "daily", "data": {"items": 3}},
            {"user_id": "not-a-uuid", "signal_type": "digest", "workflow_id": "daily"},
        ])
    assert isinstance(one, Emitted) and (one.seq, one.created) == (1, True)
    assert all(isinstance(d, Delivered) for d in many)
    assert [d.user_id for d in many] == users and [d.seq for d in many] == [2, 1, 1]
    assert isinstance(results[0], Emitted) and results[0].seq == 2
    assert isinstance(results[1], BatchError) and results[1].status == 422


async def test_async_client_has_the_same_methods(api, service_token, token):
    user = uuid.uuid4()
    async with AsyncSignalHubClient(api.base, service_token) as hub:
        one = await hub.emit(user, "status_update", "w", {"status": "started"})
        [mine] = await hub.emit_many([user], "note.added", "w", {"text": "hi"})
        [batched] = await hub.batch([{"user_id": str(user), "signal_type": "note.added", "workflow_id": "w"}])
    assert [one.seq, mine.seq, batched.seq] == [1, 2, 3]
    assert [s["signal_type"] for s in await _inbox(api, token, user)] == ["note.added", "note.added", "status_update"]


async def test_a_lost_answer_is_retried_with_the_same_key_and_stores_one_signal(api, service_token, token):
    user = uuid.uuid4()
    async with AnswerLosingProxy(api.port, lose=1) as proxy:
        async with AsyncSignalHubClient(f"http://127.0.0.1:{proxy.port}", service_token, backoff=0.05) as hub:
            emitted = await hub.emit(user, "completion", "job-9", {"result": "ok"})
            [batched] = await hub.batch([{"user_id": user, "signal_type": "x", "workflow_id": "job-9"}])
    assert proxy.connections >= 2  # the first answer was lost, the retry went through
    assert emitted.created is False  # the retry found the signal its first attempt stored
    stored = await _inbox(api, token, user)
    assert [s["id"] for s in stored] == [str(batched.id), str(emitted.id)]


async def test_the_sync_client_retries_through_a_lost_answer_too(api, service_token, token):
    user = uuid.uuid4()
    async with AnswerLosingProxy(api.port, lose=1) as proxy:
        with SignalHubClient(f"http://127.0.0.1:{proxy.port}", service_token, backoff=0.05) as hub:
            many = await asyncio.to_thread(hub.emit_many, [user], "x", "w")
    assert [d.created for d in many] == [False]
    assert len(await _inbox(api, token, user)) == 1


def test_a_refused_connection_is_retried_until_the_server_is_up(database_url, artifacts, service_token):
    server = ApiProcess(database_url, artifacts)
    starter = threading.Timer(0.5, server.start)
    starter.start()
    try:
        with SignalHubClient(server.base, service_token, retries=12, backoff=0.5, max_delay=2) as hub:
            emitted = hub.emit(uuid.uuid4(), "status_update", "w", {"status": "late"})
        assert emitted.created and emitted.seq == 1
    finally:
        starter.join()
        server.stop()


async def test_503_while_the_database_is_down_is_retried_until_it_is_back(own_postgres, artifacts, service_token):  # noqa: F811
    url, stop, start = own_postgres
    api = await asyncio.to_thread(ApiProcess(url, artifacts).start)
    try:
        await asyncio.to_thread(stop)
        async with AsyncSignalHubClient(api.base, service_token, retries=20, backoff=0.2, max_delay=1) as hub:
            async with AsyncSignalHubClient(api.base, service_token, retries=0) as no_retries:
                with pytest.raises(SignalHubError) as down:
                    await no_retries.emit(uuid.uuid4(), "x", "w")
            assert down.value.status == 503
            restart = asyncio.get_running_loop().call_later(1.0, lambda: threading.Thread(target=start).start())
            emitted = await hub.emit(uuid.uuid4(), "x", "w")
            restart.cancel()
        assert emitted.created
    finally:
        await asyncio.to_thread(api.stop)


def test_a_refused_signal_raises_at_once_with_the_servers_detail(api, service_token):
    with SignalHubClient(api.base, service_token, backoff=10) as hub:  # a retry would take 10 s
        with pytest.raises(SignalHubError) as refused:
            hub.emit(uuid.uuid4(), "progress", "w", {"progress": 9})
    assert refused.value.status == 422
    assert "between 0 and 1" in json.dumps(refused.value.detail)


def _cli(api, *args: str, **env: str) -> subprocess.CompletedProcess:
    env = base_env("postgresql://unused@127.0.0.1:1/unused", SIGNALHUB_URL=api.base, **env)
    return subprocess.run([str(BIN / "signalhub"), "emit", *args], env=env, capture_output=True, text=True, timeout=60)


def test_emit_command_sends_to_one_or_many_users_and_prints_json(api, token):
    alice, bob = uuid.uuid4(), uuid.uuid4()
    one = _cli(api, "--user", str(alice), "--type", "progress", "--workflow", "w", "--data", '{"progress": 0.5}')
    assert one.returncode == 0, one.stderr
    assert json.loads(one.stdout) | {"id": "-"} == {"id": "-", "seq": 1, "created": True}
    many = _cli(api, "--user", str(alice), "--user", str(bob), "--type", "approval_needed", "--workflow", "w")
    assert [s["seq"] for s in json.loads(many.stdout)["signals"]] == [2, 1]


def test_emit_command_sends_the_service_token_from_its_setting(api, service_token):
    args = ("--user", str(uuid.uuid4()), "--type", "x", "--workflow", "w")
    assert _cli(api, *args, SIGNALHUB_SERVICE_TOKEN=service_token).returncode == 0
    refused = _cli(api, *args, SIGNALHUB_SERVICE_TOKEN="not-a-token")  # used as given, not minted over
    assert refused.returncode == 2 and "401" in refused.stderr, refused.stderr


@pytest.mark.parametrize(
    "args, complaint",
    [
        (["--data", "[1]"], "JSON object"),
        (["--data", "{nope"], "JSON object"),
        (["--data", "[" * 100_000], "JSON object"),
        (["--type", "Not A Type"], "signal_type"),
    ],
)
def test_emit_command_says_what_is_wrong(api, args, complaint):
    base = {"--user": str(uuid.uuid4()), "--type": "x", "--workflow": "w"}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    result = _cli(api, *[part for pair in base.items() for part in pair])
    assert result.returncode == 2 and complaint in result.stderr, result.stderr
    assert SECRET not in result.stderr
