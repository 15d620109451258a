"""Broker servers for the contract suite (shared with other suites via tests.servers)."""

from tests.servers import nats_url, own_nats, own_valkey, redis_url  # noqa: F401
