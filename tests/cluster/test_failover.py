"""Three API instances behind HAProxy (deploy/haproxy.cfg): sockets are spread
over all three; when one instance is killed mid-stream its clients come back
through the balancer to the others and miss nothing; a broker restart costs
nothing either. Real processes, real sockets, on 127.0.0.1; scaled down for CI
(bench/cluster.py runs the same at thousands of sockets and times it).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import urllib.request
import uuid

from signalhub.dev.balancer import readiness_path
from tests.cluster.clients import ReconnectingClient
from tests.delivery.harness import Emitter, assert_each_once_in_order, stored
from tests.support import ApiProcess

USERS = 30
SOCKETS_PER_USER = 3  # 90 sockets in all
COUNT = 60            # signals per user
PACE = 0.1            # seconds between one user's signals: the stream lasts about 6 s


def socket_count(api: ApiProcess, service_token: str) -> int:
    request = urllib.request.Request(f"{api.base}/ws/status", headers={"Authorization": f"Bearer {service_token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["total_connections"]


async def open_clients(url: str, users: list[uuid.UUID], token) -> list[tuple[uuid.UUID, ReconnectingClient]]:
    rng = random.Random(16)
    clients = [(user, ReconnectingClient(token(user), url, rng)) for user in users for _ in range(SOCKETS_PER_USER)]
    for _, client in clients:  # one by one, so least-connections has the counts to go by
        await client.open(url)
    return clients


async def checks_settled(balancer, timeout: float = 15.0):
    """The servers once none of their health checks is still initialising (or `timeout` passed)."""
    deadline = time.monotonic() + timeout
    servers = balancer.servers()
    while any(s.check.startswith("INI") for s in servers) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        servers = balancer.servers()
    return servers


async def assert_nothing_lost_or_repeated(database_url: str, clients) -> None:
    for user, client in clients:
        assert_each_once_in_order(client.signals, await stored(database_url, user))


async def test_balancer_spreads_sockets_over_every_instance(balanced, token, service_token):
    users = [uuid.uuid4() for _ in range(USERS)]
    clients = await open_clients(balanced.balancer.ws_url, users, token)
    try:
        counts = [socket_count(api, service_token) for api in balanced.apis]
        assert sum(counts) == len(clients)
        assert all(n > 0 for n in counts), counts
        assert max(counts) - min(counts) <= 1, f"least connections should even them out: {counts}"
        # HTTP checks, answered 200 (a check still in flight on a busy machine reads INI: wait, bounded).
        assert [s.check for s in await checks_settled(balanced.balancer)] == ["L7OK"] * 3
        for api in balanced.apis:  # HAProxy's checks speak HTTP/1.0 (the start-up wait: 1.1)
            assert f'"GET {readiness_path()} HTTP/1.0" 200' in api.log()
    finally:
        await asyncio.gather(*(c.close() for _, c in clients))


async def test_clients_of_a_killed_instance_resume_through_the_balancer_with_nothing_lost_or_repeated(
    balanced, database_url, token, service_token
):
    users = [uuid.uuid4() for _ in range(USERS)]
    clients = await open_clients(balanced.balancer.ws_url, users, token)
    victim, survivors = balanced.apis[0], balanced.apis[1:]
    on_victim = socket_count(victim, service_token)
    assert on_victim > 0
    emitter = await Emitter.start(database_url, balanced.broker.url, users, COUNT, pace=PACE)
    try:
        following = [asyncio.create_task(c.follow(COUNT, timeout=90)) for _, c in clients]
        await asyncio.wait_for(_until(lambda: all(len(c.signals) >= 5 for _, c in clients)), 30)
        victim.kill()  # SIGKILL: no close frame, no goodbye
        killed_at = time.monotonic()
        await asyncio.gather(*following)
        assert (await emitter.result())["emitted"] == USERS * COUNT

        moved = [c for _, c in clients if c.outages]
        assert len(moved) == on_victim, "exactly the killed instance's clients lost their socket"
        assert all(len(c.outages) == 1 for c in moved)
        await assert_nothing_lost_or_repeated(database_url, clients)
        assert sum(socket_count(api, service_token) for api in survivors) == len(clients)
        assert [s.name for s in balanced.balancer.servers() if not s.up] == ["api1"]
        back = sorted(back - killed_at for _, back in (c.outages[0] for c in moved))
        print(f"\n{len(moved)} sockets moved; all back {back[-1]:.2f}s after the kill "
              f"(median {back[len(back) // 2]:.2f}s); failed attempts {sum(c.failed_attempts for c in moved)}")
    finally:
        await emitter.kill()
        await asyncio.gather(*(c.close() for _, c in clients))


async def test_no_signal_is_lost_when_the_broker_restarts_mid_stream_behind_the_balancer(
    balanced, database_url, token
):
    users = [uuid.uuid4() for _ in range(USERS)]
    clients = await open_clients(balanced.balancer.ws_url, users, token)
    emitter = await Emitter.start(database_url, balanced.broker.url, users, COUNT, pace=PACE)
    try:
        following = [asyncio.create_task(c.follow(COUNT, timeout=90)) for _, c in clients]
        await asyncio.wait_for(_until(lambda: all(len(c.signals) >= 5 for _, c in clients)), 30)
        await asyncio.to_thread(balanced.broker.restart)
        await asyncio.gather(*following)
        assert (await emitter.result())["emitted"] == USERS * COUNT

        assert not any(c.outages for _, c in clients), "sockets stay open while the broker is away"
        await assert_nothing_lost_or_repeated(database_url, clients)
        for api in balanced.apis:
            assert "re-established" in api.log()
    finally:
        await emitter.kill()
        await asyncio.gather(*(c.close() for _, c in clients))


async def _until(predicate, interval: float = 0.05) -> None:
    while not predicate():
        await asyncio.sleep(interval)
