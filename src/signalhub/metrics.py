"""Prometheus metrics (the seed's "signal metrics"), exported at `/metrics`.

Cost on the hot path: fan-out does per-signal work only, never per connection:
two integer additions and a scan of the payload for its type (`FanoutStats`,
~0.4 µs; prometheus-client's locked `Counter.inc` costs more, which with one
socket per user is paid for every delivery). The emit→send latency is sampled:
at most one signal per millisecond has its timestamp parsed and observed, so a
busy process does not parse a timestamp per signal. These counts are kept on the
event loop thread only and exported at scrape time, like the values that
already live in the running objects (send-queue depths, broker reconnects,
coalesced progress frames), by `RuntimeCollector`.
"""

from __future__ import annotations

import time
import weakref
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from .wire import SEED_SIGNAL_TYPES, SIGNAL_TYPE_KEY, timestamp_of

CONNECTIONS = Gauge("signalhub_connections", "Open WebSocket connections on this process")
SIGNALS_STORED = Counter("signalhub_signals_stored_total", "Signals stored", ["signal_type"])
SIGNALS_DUPLICATE = Counter(
    "signalhub_signals_duplicate_total", "Emits answered from an existing idempotency key", ["signal_type"]
)
FRAMES_DROPPED = Counter(
    "signalhub_frames_dropped_total",
    "Queued frames discarded because their connection was closed (slow consumer, token expiry, shutdown); "
    "the client recovers them by resuming from its last seq",
)
PERSIST_FAILURES = Counter("signalhub_persist_failures_total", "Emits that could not be stored")
PUBLISH_FAILURES = Counter("signalhub_publish_failures_total", "Stored signals whose broker publish failed")
SLOW_CONSUMERS = Counter("signalhub_slow_consumer_disconnects_total", "Connections closed with 4408")
REQUEST_HEAD_TIMEOUTS = Counter(
    "signalhub_request_head_timeouts_total",
    "Connections closed (408) because their HTTP request head did not complete within SIGNALHUB_REQUEST_HEAD_TIMEOUT",
)
REQUEST_HEADS_REFUSED = Counter(
    "signalhub_request_heads_refused_total",
    "Request heads answered 414/431 (line, header count or head size over its limit)",
    ["status"],
)
EMIT_LATENCY = Histogram(
    "signalhub_emit_seconds",
    "Time to store (and announce) one signal",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)

# Custom types share one label, "custom": a label per name would let senders grow /metrics without bound.
_KNOWN_TYPES = frozenset(SEED_SIGNAL_TYPES)
_monotonic = time.monotonic
_EMIT_TO_SEND_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class FanoutStats:
    """Fan-out counts of this process: frames handed to sockets (in all and by
    signal type) and the emit→send latency histogram.

    Updated only on the event loop thread (the hub's fan-out), so plain
    integers suffice: no lock per signal. Read by `RuntimeCollector` at scrape time.
    """

    __slots__ = ("fanout", "delivered", "latency_counts", "latency_sum", "next_sample")

    #: Seconds between latency samples at most (below that rate every signal is sampled).
    SAMPLE_INTERVAL = 0.001

    def __init__(self) -> None:
        self.fanout = 0
        self.delivered = dict.fromkeys((*sorted(_KNOWN_TYPES), "custom", "unknown"), 0)
        # counts[i]: samples <= _EMIT_TO_SEND_BUCKETS[i] and above the bucket before; the last: above all.
        self.latency_counts = [0] * (len(_EMIT_TO_SEND_BUCKETS) + 1)
        self.latency_sum = 0.0
        self.next_sample = 0.0  # time.monotonic() from which the next signal is sampled

    def observe_latency(self, seconds: float) -> None:
        self.latency_counts[bisect_left(_EMIT_TO_SEND_BUCKETS, seconds)] += 1
        self.latency_sum += seconds

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily("signalhub_signal_fanout", "Signal frames handed to connections", self.fanout)
        delivered = CounterMetricFamily(
            "signalhub_signals_delivered",
            "Signal frames handed to connections for sending (one per connection), by type",
            labels=["signal_type"],
        )
        for kind, count in self.delivered.items():
            delivered.add_metric([kind], count)
        yield delivered
        cumulative, buckets = 0, []
        for bound, count in zip((*_EMIT_TO_SEND_BUCKETS, float("inf")), self.latency_counts, strict=False):
            cumulative += count
            buckets.append((floatToGoString(bound), cumulative))
        yield HistogramMetricFamily(
            "signalhub_emit_to_send_seconds",
            "From emit (the signal's timestamp) to its frame being written to the sockets of this "
            "process's connections that had nothing queued before it (at most one sample per millisecond)",
            buckets=buckets,
            sum_value=self.latency_sum,
        )


FANOUT_STATS = FanoutStats()


def signal_fanned_out(payload: str | None, connections: int) -> None:
    """Count one signal handed to `connections` sockets and sample its emit→send latency.

    Called by the hub after its fan-out loop, when the frame has been written
    to every socket that was idle (signalhub's WebSocket protocol writes those
    within the loop); a socket that was already backlogged writes it later and
    is not waited for.
    """
    stats = FANOUT_STATS
    stats.fanout += connections
    if payload is None:  # announced by seq only (too big for the broker): read from the DB
        return
    # `wire.signal_type_of`, inline and with `str.partition` (cheaper than `find` and a
    # slice in CPython): with one socket per user this runs for every delivery.
    kind = payload.partition(SIGNAL_TYPE_KEY)[2].partition('"')[0]
    stats.delivered[kind if kind in _KNOWN_TYPES else "custom" if kind else "unknown"] += connections
    now = _monotonic()
    if now < stats.next_sample:
        return
    stats.next_sample = now + stats.SAMPLE_INTERVAL
    emitted_at = timestamp_of(payload)
    if emitted_at is not None:
        stats.observe_latency(max(0.0, time.time() - emitted_at))


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
        yield from FANOUT_STATS.collect()
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
