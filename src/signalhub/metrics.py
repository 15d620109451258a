"""Prometheus metrics (the seed's "signal metrics"), exported at `/metrics`."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

CONNECTIONS = Gauge("signalhub_connections", "Open WebSocket connections on this process")
SIGNALS_STORED = Counter("signalhub_signals_stored_total", "Signals stored", ["signal_type"])
SIGNALS_DUPLICATE = Counter(
    "signalhub_signals_duplicate_total", "Emits answered from an existing idempotency key", ["signal_type"]
)
FANOUT = Counter("signalhub_signal_fanout_total", "Signal frames queued to connections")
PERSIST_FAILURES = Counter("signalhub_persist_failures_total", "Emits that could not be stored")
PUBLISH_FAILURES = Counter("signalhub_publish_failures_total", "Stored signals whose broker publish failed")
SLOW_CONSUMERS = Counter("signalhub_slow_consumer_disconnects_total", "Connections closed with 4408")
EMIT_LATENCY = Histogram(
    "signalhub_emit_seconds",
    "Time to store (and announce) one signal",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)
