"""Brokers, chosen by URL scheme and imported lazily (one small file each)."""

from __future__ import annotations

from typing import Any

from .base import CHANNEL, Broker


def create_broker(
    broker_url: str,
    database_url: str,
    *,
    listen_url: str | None = None,
    connect_options: dict[str, Any] | None = None,
) -> Broker:
    """The broker for `broker_url`; the PostgreSQL one LISTENs on `listen_url`
    (default `database_url`) with signalhub's `connect_options`."""
    scheme = broker_url.split("://", 1)[0].lower()
    if scheme in {"postgres", "postgresql"}:
        from .postgres import PostgresBroker

        return PostgresBroker(database_url, listen_url=listen_url, connect_options=connect_options)
    if scheme == "memory":
        from .memory import MemoryBroker

        return MemoryBroker()
    if scheme in {"redis", "rediss", "valkey"}:
        from .._extras import require

        require("redis", "redis", "BROKER_URL=redis://…")
        from .redis import RedisBroker

        return RedisBroker(broker_url)
    if scheme == "nats":
        from .._extras import require

        require("nats", "nats", "BROKER_URL=nats://…")
        from .nats import NatsBroker

        return NatsBroker(broker_url)
    raise ValueError(f"unknown BROKER_URL scheme {scheme!r}")


__all__ = ["CHANNEL", "Broker", "create_broker"]
