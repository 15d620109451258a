"""One contract, every broker: memory, PostgreSQL LISTEN/NOTIFY, Redis/Valkey, NATS.

Each broker is the real thing over real sockets. What every broker must do
(broker/base.py): deliver each published frame, unchanged and in order, to
every subscriber; keep the subscription across a broker failure and say so
through `on_reconnect`; release everything on `close`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from signalhub.broker import Broker, create_broker
from signalhub.store import connect as connect_db
from signalhub.wire import broker_frame
from tests.support import async_wait_until, free_port

KINDS = ["memory", "postgres", "redis", "nats"]
SHARED_KINDS = ["postgres", "redis", "nats"]  # reach other processes


class Subscriber:
    """Collects what a broker delivers and counts reconnects."""

    def __init__(self) -> None:
        self.frames: list[str] = []
        self.reconnects = 0

    def on_message(self, frame: str) -> None:
        self.frames.append(frame)

    def on_reconnect(self) -> None:
        self.reconnects += 1


@pytest.fixture
def broker_url(redis_url, nats_url) -> Callable[[str], str]:
    return {"memory": "memory", "postgres": "postgres", "redis": redis_url, "nats": nats_url}.get


@pytest.fixture
async def open_broker(database_url) -> AsyncIterator[Callable[[str], asyncio.Future]]:
    opened: list[Broker] = []

    async def make(url: str) -> Broker:
        broker = create_broker(url, database_url)
        await broker.connect()
        opened.append(broker)
        return broker

    yield make
    for broker in opened:
        await broker.close()


def frames(count: int, user: uuid.UUID | None = None) -> list[str]:
    user = user or uuid.uuid4()
    return [broker_frame(user, n, f'{{"seq":{n},"text":"ünïcode\\nand a newline"}}') for n in range(1, count + 1)]


@pytest.mark.parametrize("kind", KINDS)
async def test_subscriber_receives_every_published_frame_unchanged_and_in_order(kind, broker_url, open_broker):
    broker = await open_broker(broker_url(kind))
    sub = Subscriber()
    await broker.subscribe(sub.on_message, sub.on_reconnect)
    sent = frames(300)
    for frame in sent:
        await broker.publish(frame)
    await async_wait_until(lambda: len(sub.frames) >= len(sent), timeout=20, what=f"{kind} delivery")
    assert sub.frames == sent
    assert sub.reconnects == 0


@pytest.mark.parametrize("kind", SHARED_KINDS)
async def test_every_instance_receives_frames_published_by_another(kind, broker_url, open_broker):
    publisher = await open_broker(broker_url(kind))
    subscribers = []
    for _ in range(2):
        instance = await open_broker(broker_url(kind))
        sub = Subscriber()
        await instance.subscribe(sub.on_message, sub.on_reconnect)
        subscribers.append(sub)
    sent = frames(50)
    for frame in sent:
        await publisher.publish(frame)
    for sub in subscribers:
        await async_wait_until(lambda sub=sub: len(sub.frames) >= len(sent), timeout=20, what=f"{kind} fan-out")
        assert sub.frames == sent


@pytest.mark.parametrize("kind", KINDS)
async def test_close_is_safe_twice_and_ends_delivery(kind, broker_url, open_broker):
    broker = await open_broker(broker_url(kind))
    sub = Subscriber()
    await broker.subscribe(sub.on_message, sub.on_reconnect)
    await broker.close()
    await broker.close()
    other = await open_broker(broker_url(kind))
    await other.publish(frames(1)[0])
    await asyncio.sleep(0.5)
    assert sub.frames == []


@pytest.mark.parametrize("kind", ["postgres", "redis", "nats"])
async def test_connect_raises_when_the_broker_cannot_be_reached(kind, database_url):
    port = free_port()  # nothing listens here
    url = {
        "postgres": "postgres",
        "redis": f"redis://127.0.0.1:{port}",
        "nats": f"nats://127.0.0.1:{port}",
    }[kind]
    db = f"postgresql://postgres@127.0.0.1:{port}/postgres" if kind == "postgres" else database_url
    broker = create_broker(url, db)
    with pytest.raises(Exception):  # noqa: B017 - each client library raises its own connection error
        await asyncio.wait_for(broker.connect(), 30)
    await broker.close()


# -- failures: the broker goes away and comes back -----------------------------------


async def _terminate_listeners(database_url: str) -> int:
    """Kill the LISTEN backends on this database (what a PostgreSQL restart does to them)."""
    conn = await connect_db(database_url)
    try:
        return len(
            await conn.fetch(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() AND query ILIKE 'LISTEN%'"
            )
        )
    finally:
        await conn.close()


@pytest.mark.parametrize("kind", ["postgres", "redis", "nats"])
async def test_subscription_survives_a_broker_restart_and_reports_it(kind, database_url, open_broker, own_valkey, own_nats):
    url = {"postgres": "postgres", "redis": own_valkey.url, "nats": own_nats.url}[kind]
    broker = await open_broker(url)
    sub = Subscriber()
    await broker.subscribe(sub.on_message, sub.on_reconnect)
    before, after = frames(3), frames(3)
    for frame in before:
        await broker.publish(frame)
    await async_wait_until(lambda: len(sub.frames) == 3, timeout=20, what="delivery before the restart")

    if kind == "postgres":
        assert await _terminate_listeners(database_url) >= 1
    else:
        await asyncio.to_thread((own_valkey if kind == "redis" else own_nats).restart)
    await async_wait_until(lambda: sub.reconnects >= 1, timeout=30, what=f"{kind} resubscribed")
    assert broker.reconnects == sub.reconnects

    publisher = await open_broker(url)  # a fresh publisher: the old one may still be reconnecting
    for frame in after:
        await publisher.publish(frame)
    await async_wait_until(lambda: len(sub.frames) >= 6, timeout=20, what="delivery after the restart")
    assert sub.frames[:3] == before
    assert sub.frames[3:] == after


async def test_redis_publish_raises_while_the_server_is_down_and_recovers_after(open_broker, own_valkey):
    broker = await open_broker(own_valkey.url)
    await asyncio.to_thread(own_valkey.stop)
    with pytest.raises(Exception):  # noqa: B017 - redis-py's or ours, depending on when the loss is seen
        await asyncio.wait_for(broker.publish(frames(1)[0]), 20)
    await asyncio.to_thread(own_valkey.start)

    async def publishes() -> bool:
        try:
            await broker.publish(frames(1)[0])
        except Exception:
            return False
        return True

    # The dropped connection is re-opened by the same broker object, no restart needed.
    await async_wait_until(publishes, timeout=20, interval=0.2, what="publish after the server came back")


async def test_valkey_scheme_is_accepted_as_redis(open_broker, redis_url):
    broker = await open_broker(redis_url.replace("redis://", "valkey://", 1))
    sub = Subscriber()
    await broker.subscribe(sub.on_message, sub.on_reconnect)
    [frame] = frames(1)
    await broker.publish(frame)
    await async_wait_until(lambda: sub.frames == [frame], timeout=20, what="valkey:// delivery")
