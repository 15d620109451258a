"""The broker interface: how one process tells every API instance "something new".

Guarantee: best effort, at most once. A message may be lost while a broker
reconnects; the database is the source of truth, so after every (re)connect
the broker calls `on_reconnect` and the hub re-reads what it may have missed.
Messages are text frames built by `store.broker_message` (never re-encoded).
"""

from __future__ import annotations

import abc
from collections.abc import Callable

CHANNEL = "signalhub"

OnMessage = Callable[[str], None]
OnReconnect = Callable[[], None]


class Broker(abc.ABC):
    #: When set, the store sends NOTIFY on this channel inside the insert itself,
    #: and `publish` is not called for signals (PostgreSQL only).
    transactional_channel: str | None = None

    #: Times the subscription was re-established after a failure.
    reconnects: int = 0

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
