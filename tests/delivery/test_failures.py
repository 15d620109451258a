"""Nothing lost when an API instance dies or the broker goes away mid-stream.

Separate OS processes on 127.0.0.1: three `signalhub api` instances, an
emitter process (as a worker), real PostgreSQL and a real broker (Redis/Valkey,
NATS, or PostgreSQL NOTIFY alone). A stream of 1,000 signals is interrupted;
the client ends with all 1,000, in order, none twice.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from signalhub.store import connect as connect_db
from tests.delivery.harness import (
    Emitter,
    StreamClient,
    assert_each_once_in_order,
    start_apis,
    stop_apis,
    stored,
)

COUNT = 1000
PACE = 0.002  # seconds between emits: the stream lasts a few seconds, long enough to interrupt


def broker_for(kind: str, redis_url: str, nats_url: str) -> str:
    return {"redis": redis_url, "nats": nats_url, "postgres": "postgres"}[kind]


@pytest.mark.parametrize("kind", ["redis", "nats", "postgres"])
async def test_client_resumes_on_another_instance_after_its_instance_is_killed(
    kind, database_url, artifacts, token, redis_url, nats_url
):
    broker = broker_for(kind, redis_url, nats_url)
    user = uuid.uuid4()
    a, b, c = await start_apis(3, database_url, artifacts, BROKER_URL=broker)
    emitter = None
    try:
        client, observer = StreamClient(token(user)), StreamClient(token(user))
        await client.open(a.ws)
        await observer.open(c.ws)  # another instance, never interrupted
        emitter = await Emitter.start(database_url, broker, [user], COUNT, pace=PACE)

        assert await client.read_until(300)
        a.kill()  # SIGKILL: no close frame, no goodbye
        await client.read_until_closed()
        interrupted_at = len(client.signals)
        assert interrupted_at < COUNT

        await client.open(b.ws)  # ?since=<last seq>
        assert await client.read_until(COUNT)
        assert await observer.read_until(COUNT)
        assert (await emitter.result())["emitted"] == COUNT

        expected = await stored(database_url, user)
        assert len(expected) == COUNT
        assert_each_once_in_order(client.signals, expected)
        assert_each_once_in_order(observer.signals, expected)
        assert {"type": "resumed", "recovered": True} in client.controls
        await client.close()
        await observer.close()
    finally:
        if emitter is not None:
            await emitter.kill()
        stop_apis([a, b, c])


async def _terminate_listen_backends(database_url: str) -> int:
    conn = await connect_db(database_url)
    try:
        rows = await conn.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND query ILIKE 'LISTEN%'"
        )
        return len(rows)
    finally:
        await conn.close()


@pytest.mark.parametrize("kind", ["redis", "nats"])
async def test_clients_catch_up_when_the_broker_comes_back_after_the_stream_ended(
    kind, database_url, artifacts, token, own_valkey, own_nats
):
    """The broker is down for the rest of the stream: no later frame reveals a gap,
    so only the catch-up after re-subscribing can deliver the tail."""
    server = own_valkey if kind == "redis" else own_nats
    user = uuid.uuid4()
    apis = await start_apis(2, database_url, artifacts, BROKER_URL=server.url)
    emitter = None
    try:
        clients = [StreamClient(token(user)) for _ in apis]
        for client, api in zip(clients, apis, strict=True):
            await client.open(api.ws)
        emitter = await Emitter.start(database_url, server.url, [user], COUNT, pace=PACE)

        assert await clients[0].read_until(300)
        await asyncio.to_thread(server.stop)
        result = await emitter.result()  # the emitter finishes while the broker is down
        assert result["emitted"] == COUNT
        if kind == "redis":
            assert result["publish_failures"] > 0  # stored, not announced, counted
        assert all(len(c.signals) < COUNT for c in clients)
        await asyncio.to_thread(server.start)

        for client in clients:  # no reconnect: the same sockets get everything
            assert await client.read_until(COUNT), f"socket closed: {client.close_codes}"
        expected = await stored(database_url, user)
        for client in clients:
            assert_each_once_in_order(client.signals, expected)
            await client.close()
        for api in apis:
            assert "subscription re-established" in api.log()
    finally:
        if emitter is not None:
            await emitter.kill()
        stop_apis(apis)


@pytest.mark.parametrize("kind", ["redis", "nats", "postgres"])
async def test_clients_get_every_signal_when_the_broker_restarts_mid_stream(
    kind, database_url, artifacts, token, own_valkey, own_nats
):
    broker = {"redis": own_valkey.url, "nats": own_nats.url, "postgres": "postgres"}[kind]
    user = uuid.uuid4()
    apis = await start_apis(2, database_url, artifacts, BROKER_URL=broker)
    emitter = None
    try:
        clients = [StreamClient(token(user)) for _ in apis]
        for client, api in zip(clients, apis, strict=True):
            await client.open(api.ws)
        emitter = await Emitter.start(database_url, broker, [user], COUNT, pace=PACE)

        assert await clients[0].read_until(300)
        if kind == "postgres":
            # What a PostgreSQL restart does to the LISTEN connections (the test
            # database is shared by this suite, so the server itself stays up).
            assert await _terminate_listen_backends(database_url) >= len(apis)
        else:
            await asyncio.to_thread((own_valkey if kind == "redis" else own_nats).restart)

        for client in clients:  # no reconnect: the same sockets get everything
            assert await client.read_until(COUNT), f"socket closed: {client.close_codes}"
        assert (await emitter.result())["emitted"] == COUNT

        expected = await stored(database_url, user)
        for client in clients:
            assert_each_once_in_order(client.signals, expected)
            await client.close()
        for api in apis:
            assert "re-established" in api.log()
    finally:
        if emitter is not None:
            await emitter.kill()
        stop_apis(apis)
