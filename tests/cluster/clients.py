"""A client that does what docs/client.md asks after a lost connection: wait a
full-jitter backoff, reconnect (here: through the balancer) with `?since=`,
and go on reading. It records when it lost its socket and when it was back."""

from __future__ import annotations

import asyncio
import random
import time

from websockets.exceptions import ConnectionClosed, InvalidHandshake

from tests.delivery.harness import StreamClient

BASE_DELAY = 0.5  # seconds: the first retry's ceiling (docs/client.md)
MAX_DELAY = 30.0


def full_jitter(attempt: int, rng: random.Random) -> float:
    """Uniform in [0, min(30 s, 0.5 s * 2^attempt)): clients cut off together do not return together."""
    return rng.random() * min(MAX_DELAY, BASE_DELAY * 2 ** min(attempt, 30))


class ReconnectingClient(StreamClient):
    """A StreamClient that reconnects to `url` with full-jitter backoff whenever its socket closes."""

    def __init__(self, token: str, url: str, rng: random.Random) -> None:
        super().__init__(token)
        self.url, self.rng = url, rng
        self.outages: list[tuple[float, float]] = []  # (lost, back) in time.monotonic()
        self.failed_attempts = 0

    async def follow(self, count: int, timeout: float) -> None:
        """Read until `count` signals, reconnecting as often as needed, within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not await self.read_until(count, max(0.1, deadline - time.monotonic())):
            lost = time.monotonic()
            await self._reconnect(deadline)
            self.outages.append((lost, time.monotonic()))

    async def _reconnect(self, deadline: float) -> None:
        attempt = 0
        while True:
            await asyncio.sleep(full_jitter(attempt, self.rng))
            try:
                await self.open(self.url)
                return
            except (OSError, InvalidHandshake, ConnectionClosed, TimeoutError):
                self.failed_attempts += 1
                attempt += 1
                if time.monotonic() > deadline:
                    raise
