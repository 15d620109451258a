"""Brokers, chosen by URL scheme and imported lazily (one small file each)."""

from __future__ import annotations

from .base import CHANNEL, Broker


def create_broker(broker_url: str, database_url: str) -> Broker:
    scheme = broker_url.split("://", 1)[0].lower()
    if scheme in {"postgres", "postgresql"}:
        from .postgres import PostgresBroker

        return PostgresBroker(database_url)
    if scheme == "memory":
        from .memory import MemoryBroker

        return MemoryBroker()
    if scheme in {"redis", "rediss", "valkey"}:
        from .redis import RedisBroker

        return RedisBroker(broker_url)
    if scheme == "nats":
        from .nats import NatsBroker

        return NatsBroker(broker_url)
    raise ValueError(f"unknown BROKER_URL scheme {scheme!r}")


__all__ = ["CHANNEL", "Broker", "create_broker"]
