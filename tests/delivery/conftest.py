"""Brokers for the delivery suite (see tests.servers)."""

from tests.servers import nats_url, own_nats, own_valkey, redis_url  # noqa: F401
