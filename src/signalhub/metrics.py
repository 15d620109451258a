"""Prometheus metrics (the seed's "signal metrics"), exported at `/metrics`.

Cost on the hot path: fan-out does per-message work only (one counter
increment by the number of connections, one `call_soon` for the latency
sample); nothing is done per connection per message. Values that already
live in the running objects (send-queue depths, broker reconnects,
coalesced progress frames) are read at scrape time by `RuntimeCollector`.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, Protocol

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

CONNECTIONS = Gauge("signalhub_connections", "Open WebSocket connections on this process")
SIGNALS_STORED = Counter("signalhub_signals_stored_total", "Signals stored", ["signal_type"])
SIGNALS_DUPLICATE = Counter(
    "signalhub_signals_duplicate_total", "Emits answered from an existing idempotency key", ["signal_type"]
)
FANOUT = Counter("signalhub_signal_fanout_total", "Signal frames queued to connections")
SIGNALS_DELIVERED = Counter(
    "signalhub_signals_delivered_total",
    "Signal frames handed to connections for sending (one per connection), by type",
    ["signal_type"],
)
FRAMES_DROPPED = Counter(
    "signalhub_frames_dropped_total",
    "Queued frames discarded because their connection was closed (slow consumer, token expiry, shutdown); "
    "the client recovers them by resuming from its last seq",
)
PERSIST_FAILURES = Counter("signalhub_persist_failures_total", "Emits that could not be stored")
PUBLISH_FAILURES = Counter("signalhub_publish_failures_total", "Stored signals whose broker publish failed")
SLOW_CONSUMERS = Counter("signalhub_slow_consumer_disconnects_total", "Connections closed with 4408")
EMIT_LATENCY = Histogram(
    "signalhub_emit_seconds",
    "Time to store (and announce) one signal",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)
EMIT_TO_SEND = Histogram(
    "signalhub_emit_to_send_seconds",
    "From emit (the signal's timestamp) to its frame being written to the sockets of this "
    "process's connections that had nothing queued before it (one sample per signal)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)

_TYPE_KEY = ',"signal_type":"'
_TIMESTAMP_KEY = '"timestamp":"'
_KNOWN_TYPES = frozenset({"status_update", "progress", "completion", "error"})
# Label children resolved once: `.labels()` takes a lock and a dict lookup per call.
_DELIVERED_BY_TYPE = {kind: SIGNALS_DELIVERED.labels(kind) for kind in (*_KNOWN_TYPES, "unknown")}


def _signal_type(payload: str) -> str:
    """The signal_type of a wire payload, read without decoding the JSON."""
    start = payload.find(_TYPE_KEY)
    if start < 0:
        return "unknown"
    start += len(_TYPE_KEY)
    kind = payload[start : payload.find('"', start)]
    return kind if kind in _KNOWN_TYPES else "unknown"


def _emitted_at(payload: str) -> float | None:
    """The wire payload's `timestamp` as Unix time (None when absent or unreadable)."""
    start = payload.rfind(_TIMESTAMP_KEY)
    if start < 0:
        return None
    start += len(_TIMESTAMP_KEY)
    try:
        return datetime.fromisoformat(payload[start : payload.find('"', start)]).timestamp()
    except ValueError:
        return None


def _observe_emit_to_send(emitted_at: float) -> None:
    EMIT_TO_SEND.observe(max(0.0, time.time() - emitted_at))


def signal_fanned_out(payload: str | None, connections: int) -> None:
    """Count one signal queued to `connections` sockets and sample its emit→send latency.

    The latency sample is taken by a callback scheduled after the senders this
    fan-out woke up, so it runs once they have written the frame (a sender that
    was already backlogged writes it later and is not waited for).
    """
    FANOUT.inc(connections)
    if payload is None:  # announced by seq only (too big for the broker): read from the DB
        return
    _DELIVERED_BY_TYPE[_signal_type(payload)].inc(connections)
    emitted_at = _emitted_at(payload)
    if emitted_at is not None:
        try:
            asyncio.get_running_loop().call_soon(_observe_emit_to_send, emitted_at)
        except RuntimeError:  # no loop (a synchronous caller): observe now
            _observe_emit_to_send(emitted_at)


# -- values read at scrape time --------------------------------------------------


class _QueueHolder(Protocol):
    @property
    def queue_depth(self) -> int: ...


class _Hub(Protocol):
    def connections(self) -> Iterable[_QueueHolder]: ...


class RuntimeCollector(Collector):
    """Reads the live hubs and brokers of this process when `/metrics` is scraped.

    Holds only weak references, so an app that shut down disappears from the output.
    """

    def __init__(self) -> None:
        self._hubs: weakref.WeakSet[Any] = weakref.WeakSet()
        self._brokers: weakref.WeakSet[Any] = weakref.WeakSet()

    def watch(self, hub: _Hub | None = None, broker: Any = None) -> None:
        if hub is not None:
            self._hubs.add(hub)
        if broker is not None:
            self._brokers.add(broker)

    def collect(self) -> Iterator[Metric]:
        from .sendqueue import SendQueue  # late: keeps this module import-light

        total = deepest = 0
        for hub in list(self._hubs):
            for conn in list(hub.connections()):
                depth = conn.queue_depth
                total += depth
                deepest = max(deepest, depth)
        yield GaugeMetricFamily(
            "signalhub_send_queue_frames", "Frames waiting in connection send queues (all connections)", total
        )
        yield GaugeMetricFamily(
            "signalhub_send_queue_max_frames", "Frames waiting in the fullest connection send queue", deepest
        )
        yield CounterMetricFamily(
            "signalhub_broker_reconnects",
            "Times the broker subscription was re-established after a failure",
            sum(int(getattr(b, "reconnects", 0)) for b in list(self._brokers)),
        )
        yield CounterMetricFamily(
            "signalhub_progress_coalesced",
            "Unsent progress frames replaced by a newer progress of the same workflow",
            SendQueue.coalesced_total,
        )


RUNTIME = RuntimeCollector()
REGISTRY.register(RUNTIME)


def watch(hub: _Hub | None = None, broker: Any = None) -> None:
    """Expose `hub`'s queue depths and `broker`'s reconnects at `/metrics`."""
    RUNTIME.watch(hub, broker)
