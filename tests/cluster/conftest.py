"""Three `signalhub api` processes behind HAProxy (deploy/haproxy.cfg) with a nats-server of the test's own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from signalhub.dev.balancer import Haproxy, haproxy_binary
from signalhub.dev.natsserver import NatsServer
from tests.delivery.harness import start_apis, stop_apis
from tests.servers import own_nats  # noqa: F401
from tests.support import ApiProcess, free_port


@dataclass
class BalancedApis:
    apis: list[ApiProcess]
    balancer: Haproxy
    broker: NatsServer


@pytest.fixture
async def balanced(database_url, artifacts, own_nats) -> AsyncIterator[BalancedApis]:
    try:
        haproxy_binary()
    except RuntimeError as exc:
        pytest.skip(str(exc))
    apis = await start_apis(3, database_url, artifacts, BROKER_URL=own_nats.url)
    balancer = None
    try:
        balancer = Haproxy(free_port(), free_port(), [f"127.0.0.1:{api.port}" for api in apis],
                           artifacts / "haproxy.log").start()
        balancer.wait_up(3)
        yield BalancedApis(apis, balancer, own_nats)
    finally:
        if balancer is not None:
            balancer.stop()
        stop_apis(apis)
