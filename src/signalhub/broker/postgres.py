"""PostgreSQL LISTEN/NOTIFY: the default broker, needing nothing but the database.

Signals are announced by the insert statement itself (`transactional_channel`),
so notifications arrive in commit order and only for committed rows. Control
frames (inbox changes) go through `publish`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg

from .base import CHANNEL, Broker, OnMessage, OnReconnect, Resubscription

log = logging.getLogger(__name__)


class PostgresBroker(Broker):
    transactional_channel = CHANNEL

    def __init__(
        self,
        database_url: str,
        *,
        listen_url: str | None = None,
        connect_options: dict[str, Any] | None = None,
        max_backoff: float = 5.0,
    ) -> None:
        self._url = database_url
        # LISTEN needs a session of its own: behind a transaction pooler, a direct/session URL.
        self._listen_url = listen_url or database_url
        self._options = connect_options or {}
        self._max_backoff = max_backoff
        self._publisher: asyncpg.Connection | None = None
        self._publish_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    async def connect(self) -> None:
        self._publisher = await asyncpg.connect(self._url, **self._options)

    async def close(self) -> None:
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._publisher is not None:
            with contextlib.suppress(Exception):
                await self._publisher.close(timeout=2)

    async def publish(self, message: str) -> None:
        async with self._publish_lock:
            if self._publisher is None or self._publisher.is_closed():
                self._publisher = await asyncpg.connect(self._url, **self._options)
            await self._publisher.execute("SELECT pg_notify($1, $2)", CHANNEL, message)

    async def subscribe(self, on_message: OnMessage, on_reconnect: OnReconnect) -> None:
        ready = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._listen(on_message, on_reconnect, ready))
        await ready

    async def _listen(self, on_message: OnMessage, on_reconnect: OnReconnect, ready: asyncio.Future) -> None:
        attempts = Resubscription(self, ready, on_reconnect, name="PostgreSQL", max_backoff=self._max_backoff)
        while not self._closing:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self._listen_url, **self._options)
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                await conn.add_listener(CHANNEL, lambda _c, _pid, _ch, payload: on_message(payload))
            except (OSError, asyncpg.PostgresError) as exc:
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close(timeout=1)
                if not await attempts.failed(exc):
                    return
                continue
            try:
                attempts.subscribed()
                await lost.wait()
                attempts.lost()
                log.warning("broker: PostgreSQL LISTEN connection lost; reconnecting")
            finally:
                with contextlib.suppress(Exception):
                    await conn.close(timeout=1)
