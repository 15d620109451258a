"""NATS core pub/sub on subject `signalhub`: for many API instances.

Reconnection is nats-py's own: it retries forever (a fixed wait with jitter
between attempts), re-sends the subscription and round-trips a PING before
calling back, so `on_reconnect` runs when the subscription is active again
and the hub's catch-up read cannot miss a message. While reconnecting,
publishes are buffered by nats-py (up to `pending_size`) and flushed on
reconnect; a publish that cannot be buffered, or on a closed connection,
raises so `SignalService` counts it (the signal is already stored).
"""

from __future__ import annotations

import asyncio
import logging

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg

from .base import CHANNEL, Broker, OnMessage, OnReconnect

log = logging.getLogger(__name__)

SUBJECT = CHANNEL


class NatsBroker(Broker):
    def __init__(self, url: str, *, reconnect_wait: float = 0.5) -> None:
        self._url = url
        self._reconnect_wait = reconnect_wait
        self._nc: Client | None = None
        self._on_reconnect: OnReconnect | None = None

    async def connect(self) -> None:
        self._nc = await nats.connect(
            servers=[self._url],
            name="signalhub",
            connect_timeout=2,
            allow_reconnect=True,
            # A server that is not there at start-up is an error (fail fast, like the
            # other brokers); once connected, reconnect forever (set below).
            max_reconnect_attempts=1,
            reconnect_time_wait=self._reconnect_wait,  # seconds, floats work
            disconnected_cb=self._disconnected,
            reconnected_cb=self._reconnected,
            error_cb=self._error,
        )
        self._nc.options["max_reconnect_attempts"] = -1

    async def close(self) -> None:
        nc, self._nc = self._nc, None
        if nc is None or nc.is_closed:
            return
        try:
            await nc.close()
        except asyncio.CancelledError:
            # nats-py cancels its own reader while closing a half-reconnected
            # connection; only a cancellation aimed at us must go on.
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
        except Exception as exc:
            log.info("broker: NATS close: %s", exc)

    async def publish(self, message: str) -> None:
        if self._nc is None or self._nc.is_closed:
            raise ConnectionError("NATS connection is closed")
        await self._nc.publish(SUBJECT, message.encode())

    async def subscribe(self, on_message: OnMessage, on_reconnect: OnReconnect) -> None:
        if self._nc is None:
            raise RuntimeError("NatsBroker.subscribe called before connect()")

        async def deliver(msg: Msg) -> None:
            on_message(msg.data.decode())

        self._on_reconnect = on_reconnect
        await self._nc.subscribe(SUBJECT, cb=deliver)
        await self._nc.flush(timeout=5)  # the server has the subscription before we return

    # -- nats-py callbacks --------------------------------------------------------

    async def _disconnected(self) -> None:
        if self._nc is not None:
            self.connected = False
            log.warning("broker: NATS connection lost; reconnecting")

    async def _reconnected(self) -> None:
        self.reconnects += 1
        self.connected = True
        log.info("broker: NATS subscription re-established")
        if self._on_reconnect is not None:
            self._on_reconnect()

    async def _error(self, exc: Exception) -> None:
        log.warning("broker: NATS error: %s", exc)
