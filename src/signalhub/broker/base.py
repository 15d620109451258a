"""The broker interface: how one process tells every API instance "something new".

Guarantee: best effort, at most once. A message may be lost while a broker
reconnects; the database is the source of truth, so after every (re)connect
the broker calls `on_reconnect` and the hub re-reads what it may have missed.
Messages are text frames built by `wire.broker_frame` (never re-encoded).
"""

from __future__ import annotations

import abc
import asyncio
import logging
from collections.abc import Callable

CHANNEL = "signalhub"

log = logging.getLogger(__name__)

OnMessage = Callable[[str], None]
OnReconnect = Callable[[], None]


class Broker(abc.ABC):
    #: When set, the store sends NOTIFY on this channel inside the insert itself,
    #: and `publish` is not called for signals (PostgreSQL only).
    transactional_channel: str | None = None

    #: Times the subscription was re-established after a failure.
    reconnects: int = 0

    #: False while the subscription is lost and being re-established (`/healthz`, `/readyz`).
    connected: bool = True

    @abc.abstractmethod
    async def connect(self) -> None:
        """Open what publishing needs. Raises when the broker cannot be reached."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop subscriptions and release connections. Safe to call twice."""

    @abc.abstractmethod
    async def publish(self, message: str) -> None:
        """Send one frame to every subscriber (including this process)."""

    @abc.abstractmethod
    async def subscribe(self, on_message: OnMessage, on_reconnect: OnReconnect) -> None:
        """Deliver every frame to `on_message` (called on the event loop, must not block).

        Keeps the subscription alive across failures, retrying with backoff, and
        calls `on_reconnect` after each re-subscription.
        """


class Resubscription:
    """The bookkeeping a subscribe loop shares across backends.

    The first attempt decides `subscribe()`'s outcome (its failure is raised to
    the caller); after that, every failure waits with exponential backoff
    (0.1 s doubling up to `max_backoff`), and every re-subscription counts in
    `broker.reconnects` and calls `on_reconnect` so the hub catches up by seq.
    """

    def __init__(
        self, broker: Broker, ready: asyncio.Future, on_reconnect: OnReconnect, *, name: str, max_backoff: float
    ) -> None:
        self._broker = broker
        self._ready = ready
        self._on_reconnect = on_reconnect
        self._name = name
        self._max_backoff = max_backoff
        self._backoff = 0.1

    async def failed(self, exc: BaseException) -> bool:
        """A (re)subscription attempt failed: False when it was the first (give up), else wait and True."""
        self._broker.connected = False
        if not self._ready.done():
            self._ready.set_exception(exc)
            return False
        log.warning("broker: cannot subscribe to %s (%s); retrying in %.1fs", self._name, exc, self._backoff)
        await asyncio.sleep(self._backoff)
        self._backoff = min(self._backoff * 2, self._max_backoff)
        return True

    def lost(self) -> None:
        """The subscription broke; the loop is about to re-establish it."""
        self._broker.connected = False

    def subscribed(self) -> None:
        self._backoff = 0.1
        self._broker.connected = True
        if not self._ready.done():
            self._ready.set_result(None)
            return
        self._broker.reconnects += 1
        log.info("broker: %s subscription re-established", self._name)
        self._on_reconnect()
