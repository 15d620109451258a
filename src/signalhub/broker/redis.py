"""Redis (or Valkey) pub/sub on channel `signalhub`: for many API instances.

Publishing uses a small connection pool whose dropped connections are
re-opened on the next publish; when the server is down, `publish` raises
at once, so `SignalService` counts the failure (the signal is already
stored), and for `FAIL_FAST_SECONDS` after a failure publishes raise
without trying, so an outage does not slow every emit down by a connect. Subscribing uses its own connection with redis-py's silent
re-subscription turned off: every loss is seen here, the subscription is
re-established with exponential backoff, and `on_reconnect` runs once the
server has confirmed it, so the hub's catch-up read cannot miss a message.
`valkey://` URLs are accepted as a synonym of `redis://`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from .base import CHANNEL, Broker, OnMessage, OnReconnect, Resubscription

log = logging.getLogger(__name__)

_CONNECT_TIMEOUT = 2.0
FAIL_FAST_SECONDS = 1.0


def redis_url(url: str) -> str:
    """redis-py speaks `redis://` and `rediss://`; Valkey is the same protocol."""
    if url.lower().startswith("valkey://"):
        return "redis://" + url[len("valkey://") :]
    return url


class RedisBroker(Broker):
    def __init__(self, url: str, *, max_backoff: float = 5.0) -> None:
        self._url = redis_url(url)
        self._max_backoff = max_backoff
        self._publisher: Redis | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._down_until = 0.0

    async def connect(self) -> None:
        self._publisher = Redis.from_url(
            self._url,
            socket_connect_timeout=_CONNECT_TIMEOUT,
            socket_timeout=5.0,
            # One immediate retry re-opens a connection the server dropped (restart).
            retry=Retry(NoBackoff(), 1),
        )
        await self._publisher.ping()

    async def close(self) -> None:
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        if self._publisher is not None:
            with contextlib.suppress(Exception):
                await self._publisher.aclose()
            self._publisher = None

    async def publish(self, message: str) -> None:
        if self._publisher is None:
            raise RuntimeError("RedisBroker.publish called before connect()")
        loop = asyncio.get_running_loop()
        if loop.time() < self._down_until:
            raise ConnectionError("Redis was unreachable a moment ago; not announced")
        try:
            await self._publisher.publish(CHANNEL, message)
        except (OSError, RedisError):
            self._down_until = loop.time() + FAIL_FAST_SECONDS
            raise

    async def subscribe(self, on_message: OnMessage, on_reconnect: OnReconnect) -> None:
        ready = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._listen(on_message, on_reconnect, ready), name="redis-subscriber")
        await ready

    async def _subscribed(self) -> tuple[Redis, PubSub]:
        """A fresh connection subscribed to CHANNEL, confirmed by the server."""
        client = Redis.from_url(
            self._url,
            socket_connect_timeout=_CONNECT_TIMEOUT,
            decode_responses=True,
            retry=Retry(NoBackoff(), 0),  # no silent reconnect: the loop below must see every loss
        )
        pubsub = client.pubsub()
        try:
            await pubsub.subscribe(CHANNEL)
            async with asyncio.timeout(_CONNECT_TIMEOUT * 2):
                while True:
                    reply = await pubsub.get_message(timeout=_CONNECT_TIMEOUT)
                    if reply is not None and reply["type"] == "subscribe":
                        return client, pubsub
        except BaseException:
            await _release(client, pubsub)
            raise

    async def _listen(self, on_message: OnMessage, on_reconnect: OnReconnect, ready: asyncio.Future) -> None:
        attempts = Resubscription(self, ready, on_reconnect, name="Redis", max_backoff=self._max_backoff)
        while not self._closing:
            try:
                client, pubsub = await self._subscribed()
            except (OSError, RedisError, TimeoutError) as exc:
                if not await attempts.failed(exc):
                    return
                continue
            attempts.subscribed()
            try:
                async for reply in pubsub.listen():
                    if reply["type"] == "message":
                        _deliver(on_message, reply["data"])
                log.warning("broker: Redis subscription ended; resubscribing")
            except (OSError, RedisError, TimeoutError) as exc:
                log.warning("broker: Redis subscription lost (%s); resubscribing", exc)
            finally:
                attempts.lost()
                await _release(client, pubsub)


def _deliver(on_message: OnMessage, frame: str) -> None:
    # A frame the receiver chokes on must not end the subscription.
    try:
        on_message(frame)
    except Exception:
        log.exception("broker: a subscriber failed on a frame; continuing")


async def _release(client: Redis, pubsub: PubSub) -> None:
    with contextlib.suppress(Exception):
        await pubsub.aclose()
    with contextlib.suppress(Exception):
        await client.aclose()
