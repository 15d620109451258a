"""In-process broker: for a single API process that also emits (tests, `make run --memory`).

Signals from other OS processes are not seen; use `postgres` for that.
"""

from __future__ import annotations

import asyncio

from .base import Broker, OnMessage, OnReconnect


class MemoryBroker(Broker):
    def __init__(self) -> None:
        self._subscribers: list[OnMessage] = []

    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        self._subscribers.clear()

    async def publish(self, message: str) -> None:
        loop = asyncio.get_running_loop()
        for deliver in self._subscribers:
            loop.call_soon(deliver, message)

    async def subscribe(self, on_message: OnMessage, on_reconnect: OnReconnect) -> None:
        self._subscribers.append(on_message)
